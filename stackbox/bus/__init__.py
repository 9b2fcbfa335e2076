"""The message bus: one interface for every cross-service call, two transports.

`connect(url)` returns a `Bus`; "local://" is the in-process transport (all-in-one),
"rabbit://user:pass@host:port/vhost" the AMQP one (scale-out). Both pass the same tests
(`tests/bus/test_bus.py`), so code written against `Bus` runs unchanged on either.

Addressing (the oslo.messaging model): a server started with
`serve(topic, endpoint, host=H)` receives

* calls/casts to `topic` without a host -- shared between every server of the topic
  (competing consumers: each message goes to one of them, round-robin);
* calls/casts to `topic` with `host=H` -- direct to that host;
* fanouts to `topic` -- every server of the topic gets its own copy.

`method` names a public method of the endpoint (no leading underscore, not listed in
the endpoint's optional `NOT_RPC` set), sync or async;
the keyword arguments are passed to it. `topic` and `method` are positional-only, so
they may also be argument names; `host` and `timeout` are the bus's own keywords
(addressing), so a remote method cannot take arguments of those names over the bus --
call them e.g. `service_host`. Arguments and results must be JSON-serialisable
(dicts, lists, strings, numbers, booleans, None): they cross the wire as JSON on both
transports. The caller's request id (`stackbox.log.request_id`) travels with every
message and is set while the server handles it. The wire format and its version live
in `stackbox.bus.envelope`.

What does not belong here: RPC client classes per service (`<service>/rpcapi.py`) and
anything that knows about a particular topic.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


class BusError(Exception):
    """Base class of every error the bus raises."""


class RPCTimeout(BusError):
    """No reply within the timeout (or the transport knows nobody can answer)."""

    def __init__(
        self, topic: str, method: str, host: str | None, timeout: float, detail: str = ""
    ) -> None:
        self.topic, self.method, self.host, self.timeout = topic, method, host, timeout
        where = f"topic '{topic}'" + (f" on host '{host}'" if host else "")
        msg = f"no reply from {where} for method '{method}' after {timeout:g} s"
        super().__init__(f"{msg}: {detail}" if detail else msg)


class Unreachable(RPCTimeout):
    """Nobody serves the topic/host of a call, and the transport could tell at once
    (an unroutable message). A subclass of RPCTimeout so callers handle both alike."""

    def __init__(self, topic: str, method: str, host: str | None, timeout: float) -> None:
        super().__init__(topic, method, host, timeout)
        where = f"topic '{topic}'" + (f" on host '{host}'" if host else "")
        self.args = (
            f"no server for {where} (method '{method}'): the message could not "
            f"be routed; failed at once instead of waiting {timeout:g} s",
        )


class RemoteError(BusError):
    """The remote method raised; `exc_type` and `message` describe that exception.

    An unknown or private method arrives as a RemoteError with exc_type 'NoSuchMethod'."""

    def __init__(
        self,
        exc_type: str,
        message: str,
        *,
        topic: str = "",
        method: str = "",
        host: str | None = None,
    ) -> None:
        self.exc_type, self.message = exc_type, message
        self.topic, self.method, self.host = topic, method, host
        where = f"{topic}.{method}" + (f" on host '{host}'" if host else "")
        super().__init__(f"{where if topic else 'remote method'} raised {exc_type}: {message}")


class NoSuchMethod(BusError):
    """Raised on the server side for a method the endpoint does not offer; the caller
    sees it as RemoteError(exc_type='NoSuchMethod')."""


class PayloadError(BusError):
    """The arguments of a call/cast/fanout are not JSON-serialisable."""


@runtime_checkable
class Server(Protocol):
    """A handle on one `serve()`: stop consuming and release the server's queues."""

    topic: str
    host: str

    async def stop(self) -> None: ...


@runtime_checkable
class Bus(Protocol):
    """Request/reply, fire-and-forget and broadcast messages addressed by topic/host."""

    default_timeout: float

    async def start(self) -> None:
        """Connect (AMQP) or prepare (local). Call once before anything else."""

    async def stop(self) -> None:
        """Stop every server of this bus and disconnect; pending calls fail."""

    async def call(
        self,
        topic: str,
        method: str,
        /,
        *,
        host: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """Invoke `method(**kwargs)` on one server of `topic` (on `host` if given) and
        return its JSON result. Raises RPCTimeout after `timeout` seconds
        (default_timeout if None), RemoteError if the method raised."""

    async def cast(
        self, topic: str, method: str, /, *, host: str | None = None, **kwargs: Any
    ) -> None:
        """Like call, without waiting for (or getting) a result or error."""

    async def fanout(self, topic: str, method: str, /, **kwargs: Any) -> None:
        """Cast to every server of `topic`."""

    async def serve(self, topic: str, endpoint: object, *, host: str) -> Server:
        """Start handling messages for `topic` (shared, direct to `host`, fanout) with
        the public methods of `endpoint`."""


def connect(url: str, *, exchange: str = "stackbox", default_timeout: float = 60.0) -> Bus:
    """A bus for `url`: "local://" (in-process) or "rabbit://user:pass@host:port/vhost"
    (also "amqp://"). `exchange` names the AMQP exchanges (ignored by local://);
    `default_timeout` is the seconds a call waits when it gives no timeout."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    # the transports import this package (errors, envelope), so they are imported here
    if scheme == "local":
        from stackbox.bus.local import LocalBus

        return LocalBus(default_timeout=default_timeout)
    if scheme in ("rabbit", "amqp", "amqps"):
        from stackbox.bus.rabbit import RabbitBus

        return RabbitBus(url, exchange=exchange, default_timeout=default_timeout)
    raise BusError(
        f"unsupported transport URL {url!r}: use local:// or rabbit://user:pass@host:port/vhost"
    )


__all__ = [
    "Bus",
    "BusError",
    "NoSuchMethod",
    "PayloadError",
    "RPCTimeout",
    "RemoteError",
    "Server",
    "Unreachable",
    "connect",
]
