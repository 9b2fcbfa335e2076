"""Structured logging: one line per record, key=value text or JSON, with the request id.

The current request id lives in a context variable set by the HTTP middleware (and by
RPC servers for the calls they handle), so every record logged while serving a request
carries it. Secrets (tokens, passwords) are never passed to the logger.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id",
                                                                        default=None)


class _Formatter(logging.Formatter):
    def __init__(self, fmt: str) -> None:
        super().__init__()
        self.json = fmt == "json"

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        ts += f".{int(record.msecs):03d}Z"
        fields = {
            "ts": ts,
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            fields["request_id"] = rid
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            fields.update(extra)
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        if self.json:
            return json.dumps(fields, default=str)
        head = f"{fields.pop('ts')} {fields.pop('level'):<7} {fields.pop('logger')}: " \
               f"{fields.pop('msg')}"
        exc = fields.pop("exc", None)
        tail = " ".join(f"{k}={_quote(v)}" for k, v in fields.items())
        line = f"{head} {tail}" if tail else head
        return f"{line}\n{exc}" if exc else line


def _quote(value: object) -> str:
    text = str(value)
    return json.dumps(text) if (" " in text or "=" in text or not text) else text


def setup(level: str = "INFO", fmt: str = "text", stream=None) -> None:
    """Configure the root logger once for a stackbox process."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_Formatter(fmt))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Library chatter stays at WARNING unless we debug.
    quiet = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    for name in ("aio_pika", "aiormq", "sqlalchemy", "alembic", "uvicorn.error"):
        logging.getLogger(name).setLevel(max(quiet, logging.INFO if name == "alembic" else quiet))
    logging.getLogger("uvicorn.access").disabled = True


def kv(**fields: object) -> dict[str, dict[str, object]]:
    """`log.info("msg", extra=kv(a=1))` attaches structured fields to one record."""
    return {"fields": fields}
