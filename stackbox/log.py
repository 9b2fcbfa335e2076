"""Structured logging: one line per record, key=value text or JSON, with the request id.

The current request id lives in a context variable set by the HTTP middleware (and by
RPC servers for the calls they handle), so every record logged while serving a request
carries it. Secrets (tokens, passwords) are never passed to the logger.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import json
import logging
import sys
import time

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


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
        head = (
            f"{fields.pop('ts')} {fields.pop('level'):<7} {fields.pop('logger')}: "
            f"{fields.pop('msg')}"
        )
        exc = fields.pop("exc", None)
        tail = " ".join(f"{k}={_quote(v)}" for k, v in fields.items())
        line = f"{head} {tail}" if tail else head
        return f"{line}\n{exc}" if exc else line


def _quote(value: object) -> str:
    text = str(value)
    return json.dumps(text) if (" " in text or "=" in text or not text) else text


def setup(level: str = "INFO", fmt: str = "text", stream=None) -> None:
    """Configure the root logger once for a stackbox process."""
    ACCESS.configure(stream or sys.stderr, fmt, logging.getLevelName(level.upper()) <= logging.INFO)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_Formatter(fmt))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Library chatter stays at WARNING unless we debug.
    quiet = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    for name in ("aio_pika", "aiormq", "sqlalchemy", "alembic", "uvicorn.error", "httpx"):
        logging.getLogger(name).setLevel(max(quiet, logging.INFO if name == "alembic" else quiet))
    logging.getLogger("uvicorn.access").disabled = True


def kv(**fields: object) -> dict[str, dict[str, object]]:
    """`log.info("msg", extra=kv(a=1))` attaches structured fields to one record."""
    return {"fields": fields}


class AccessLog:
    """One line per HTTP request, in the same shape as every other record, but written
    without the logging machinery (which costs ~45 µs a record, a third of a cached
    API request): formatted directly, buffered, flushed within 0.2 s."""

    def __init__(self) -> None:
        self.enabled = False
        self._stream = sys.stderr
        self._json = False
        self._buf: list[str] = []
        self._scheduled = False

    def configure(self, stream, fmt: str, enabled: bool) -> None:  # type: ignore[no-untyped-def]
        self.flush()
        self._stream, self._json, self.enabled = stream, fmt == "json", enabled

    def write(
        self, method: str, path: str, status: int, ms: float, client: str, rid: str | None
    ) -> None:
        now = time.time()
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
        if self._json:
            line = json.dumps(
                {
                    "ts": ts,
                    "level": "INFO",
                    "logger": "stackbox.api.access",
                    "msg": f"{method} {path}",
                    "request_id": rid,
                    "status": status,
                    "ms": ms,
                    "client": client,
                }
            )
        else:
            line = (
                f"{ts} INFO    stackbox.api.access: {method} {_quote(path)} "
                f"request_id={rid} status={status} ms={ms} client={client}"
            )
        self._buf.append(line)
        if not self._scheduled:
            self._scheduled = True
            try:
                asyncio.get_running_loop().call_later(0.2, self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        self._scheduled = False
        if not self._buf:
            return
        lines, self._buf = self._buf, []
        try:
            self._stream.write("\n".join(lines) + "\n")
            self._stream.flush()
        except (OSError, ValueError):
            pass


ACCESS = AccessLog()
atexit.register(ACCESS.flush)
