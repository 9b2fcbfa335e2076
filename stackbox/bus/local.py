"""In-process transport ("local://"): the bus of the all-in-one deployment.

It mirrors the AMQP topology with asyncio queues so both transports behave alike:

* one queue per topic (shared) and per topic+host (direct), created by the first
  `serve()` of that address and kept after its servers stop -- like durable AMQP
  queues, messages sent meanwhile wait there for the next server;
* one private queue per server for fanouts, removed when the server stops;
* servers of one address compete for its messages, which gives round-robin delivery.

Messages are JSON bytes built by `stackbox.bus.envelope`, exactly as on the wire, so
a payload that would not survive AMQP fails here too.

Unreachable addresses: a call to a topic/host that no server has ever served fails at
once with `Unreachable` (a subclass of RPCTimeout); a call to an address whose servers
are gone waits `timeout` seconds and raises RPCTimeout. A cast or fanout nobody can
receive is dropped with a warning.

No threads, except that sync endpoint methods run in worker threads (envelope.dispatch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from stackbox.bus import BusError, RPCTimeout, Unreachable, envelope

LOG = logging.getLogger("stackbox.bus.local")

MAX_CONCURRENT = 64  # messages one server handles at a time
STOP_GRACE = 5.0  # seconds a stopping server lets running handlers finish

_Address = tuple[str, str | None]  # (topic, host or None for the shared queue)


@dataclass
class _Message:
    body: bytes
    reply: asyncio.Future[bytes] | None = None


@dataclass(eq=False)
class LocalServer:
    """The handle `LocalBus.serve()` returns."""

    bus: LocalBus
    topic: str
    host: str
    endpoint: object
    fanout_queue: asyncio.Queue[_Message] = field(default_factory=asyncio.Queue)
    _consumers: list[asyncio.Task[None]] = field(default_factory=list)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    _sem: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_CONCURRENT))
    _stopped: bool = False

    def _start(self, queues: list[asyncio.Queue[_Message]]) -> None:
        for q in queues:
            self._consumers.append(asyncio.create_task(self._consume(q)))

    async def _consume(self, q: asyncio.Queue[_Message]) -> None:
        while True:
            await self._sem.acquire()
            try:
                msg = await q.get()
            except BaseException:
                self._sem.release()
                raise
            task = asyncio.create_task(self._handle(msg))
            self._handlers.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._handlers.discard(task)
        self._sem.release()

    async def _handle(self, msg: _Message) -> None:
        if msg.reply is not None and msg.reply.done():
            return  # the caller gave up (timed out) before a server took the message
        reply = await envelope.dispatch(
            self.endpoint,
            msg.body,
            topic=self.topic,
            host=self.host,
            expects_reply=msg.reply is not None,
        )
        if msg.reply is not None and not msg.reply.done():
            msg.reply.set_result(reply)

    async def stop(self) -> None:
        """Stop taking messages, let running handlers finish (up to STOP_GRACE s)."""
        if self._stopped:
            return
        self._stopped = True
        self.bus._forget(self)
        for t in self._consumers:
            t.cancel()
        await asyncio.gather(*self._consumers, return_exceptions=True)
        if self._handlers:
            _done, pending = await asyncio.wait(set(self._handlers), timeout=STOP_GRACE)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


class LocalBus:
    """The in-process Bus. See the module docstring for its delivery rules."""

    def __init__(self, *, default_timeout: float = 60.0) -> None:
        self.default_timeout = default_timeout
        self._queues: dict[_Address, asyncio.Queue[_Message]] = {}
        self._servers: list[LocalServer] = []
        self._pending: set[asyncio.Future[bytes]] = set()
        self._running = False

    async def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        self._running = False
        for server in list(self._servers):
            await server.stop()
        for fut in list(self._pending):
            if not fut.done():
                fut.set_exception(BusError("the bus was stopped before the reply came"))

    def _check(self) -> None:
        if not self._running:
            raise BusError("the bus is not started (call `await bus.start()` first)")

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
        self._check()
        timeout = self.default_timeout if timeout is None else timeout
        body = envelope.encode_request(method, kwargs)
        q = self._queues.get((topic, host))
        if q is None:
            raise Unreachable(topic, method, host, timeout)
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending.add(fut)
        try:
            q.put_nowait(_Message(body, fut))
            try:
                async with asyncio.timeout(timeout):
                    reply = await fut
            except TimeoutError:
                raise RPCTimeout(topic, method, host, timeout) from None
        finally:
            self._pending.discard(fut)
        return envelope.decode_reply(reply, topic=topic, method=method, host=host)

    async def cast(
        self, topic: str, method: str, /, *, host: str | None = None, **kwargs: Any
    ) -> None:
        self._check()
        body = envelope.encode_request(method, kwargs)
        q = self._queues.get((topic, host))
        if q is None:
            LOG.warning(
                "cast %s.%s dropped: no server for topic %s%s",
                topic,
                method,
                topic,
                f" host {host}" if host else "",
            )
            return
        q.put_nowait(_Message(body))

    async def fanout(self, topic: str, method: str, /, **kwargs: Any) -> None:
        self._check()
        body = envelope.encode_request(method, kwargs)
        for server in self._servers:
            if server.topic == topic:
                server.fanout_queue.put_nowait(_Message(body))

    async def serve(self, topic: str, endpoint: object, *, host: str) -> LocalServer:
        self._check()
        server = LocalServer(self, topic, host, endpoint)
        shared = self._queues.setdefault((topic, None), asyncio.Queue())
        direct = self._queues.setdefault((topic, host), asyncio.Queue())
        server._start([shared, direct, server.fanout_queue])
        self._servers.append(server)
        return server

    def _forget(self, server: LocalServer) -> None:
        with contextlib.suppress(ValueError):
            self._servers.remove(server)
