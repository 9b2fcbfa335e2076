"""The RPC wire format, versioned in this one place, and endpoint dispatch.

Both transports carry exactly these JSON documents, so a message means the same thing
in-process and over AMQP:

    request  {"version": VERSION, "method": "ping", "kwargs": {...}, "request_id": "req-..."}
    reply    {"version": VERSION, "result": <json>}
             {"version": VERSION, "error": {"type": "ValueError", "message": "..."}}

A receiver accepts any minor version of its own major version and answers any other
with an 'IncompatibleVersion' error. Bumping VERSION is how an incompatible change of
this format is announced; RPC APIs of individual services version themselves.

Transport code (queues, exchanges, futures) does not belong here.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from dataclasses import dataclass
from typing import Any

from stackbox import log as sblog
from stackbox.bus import NoSuchMethod, PayloadError, RemoteError

LOG = logging.getLogger("stackbox.bus")

VERSION = "1.0"
_MAJOR = VERSION.split(".", 1)[0]


@dataclass(frozen=True)
class Request:
    method: str
    kwargs: dict[str, Any]
    request_id: str | None


def encode_request(method: str, kwargs: dict[str, Any]) -> bytes:
    """The request document for `method(**kwargs)`, carrying the current request id.
    Raises PayloadError if kwargs are not JSON-serialisable."""
    doc = {
        "version": VERSION,
        "method": method,
        "kwargs": kwargs,
        "request_id": sblog.request_id.get(),
    }
    try:
        return json.dumps(doc, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"arguments of '{method}' are not JSON-serialisable: {exc}") from exc


def decode_request(body: bytes) -> Request:
    doc = json.loads(body)
    version = str(doc.get("version", ""))
    if version.split(".", 1)[0] != _MAJOR:
        raise _Incompatible(
            f"message version {version or '?'} is not supported (this server speaks {VERSION})"
        )
    kwargs = doc.get("kwargs") or {}
    if not isinstance(doc.get("method"), str) or not isinstance(kwargs, dict):
        raise ValueError("malformed request: needs a method name and a kwargs object")
    return Request(doc["method"], kwargs, doc.get("request_id"))


def encode_result(result: Any) -> bytes:
    try:
        return json.dumps({"version": VERSION, "result": result}, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        return encode_error("TypeError", f"result is not JSON-serialisable: {exc}")


def encode_error(exc_type: str, message: str) -> bytes:
    return json.dumps(
        {"version": VERSION, "error": {"type": exc_type, "message": message}}, separators=(",", ":")
    ).encode()


def decode_reply(body: bytes, *, topic: str, method: str, host: str | None) -> Any:
    """The result of a reply document, or RemoteError raised for an error reply."""
    doc = json.loads(body)
    if "error" in doc:
        err = doc["error"] or {}
        raise RemoteError(
            str(err.get("type", "Exception")),
            str(err.get("message", "")),
            topic=topic,
            method=method,
            host=host,
        )
    return doc.get("result")


class _Incompatible(Exception):
    pass


def _lookup(endpoint: object, name: str) -> Any:
    # `NOT_RPC` (a class attribute): public methods an endpoint keeps for its own process
    if not name or name.startswith("_") or name in getattr(type(endpoint), "NOT_RPC", ()):
        raise NoSuchMethod(f"'{name}' is not a public method of {type(endpoint).__name__}")
    fn = getattr(endpoint, name, None)
    if fn is None or not callable(fn):
        raise NoSuchMethod(f"{type(endpoint).__name__} has no method '{name}'")
    return fn


async def dispatch(
    endpoint: object, body: bytes, *, topic: str, host: str, expects_reply: bool
) -> bytes:
    """Run the request in `body` against `endpoint` and return the reply document.

    The request id of the message is set for the duration of the call; a sync method
    runs in a worker thread (which inherits the context) so it cannot block the loop.
    Errors become error replies; with no caller waiting (a cast) they are logged."""
    try:
        req = decode_request(body)
    except _Incompatible as exc:
        return encode_error("IncompatibleVersion", str(exc))
    except (ValueError, TypeError) as exc:
        LOG.error("dropping malformed message on %s: %s", topic, exc)
        return encode_error("MalformedMessage", str(exc))
    token = sblog.request_id.set(req.request_id)
    try:
        fn = _lookup(endpoint, req.method)
        if inspect.iscoroutinefunction(fn):
            result = await fn(**req.kwargs)
        else:
            result = await asyncio.to_thread(fn, **req.kwargs)
            if inspect.isawaitable(result):
                result = await result
        return encode_result(result)
    except Exception as exc:  # every error goes back to the caller (or the log)
        extra = sblog.kv(topic=topic, host=host, method=req.method)
        if expects_reply:
            LOG.info("%s.%s raised %s: %s", topic, req.method, type(exc).__name__, exc, extra=extra)
        else:
            LOG.exception("cast %s.%s failed", topic, req.method, extra=extra)
        return encode_error(type(exc).__name__, str(exc))
    finally:
        sblog.request_id.reset(token)
