"""AMQP transport ("rabbit://user:pass@host:port/vhost") on aio-pika, for scale-out.

Topology, all names prefixed by the configured exchange name E:

* E: a durable topic exchange. Calls/casts go there with routing key `topic` (shared)
  or `topic.host` (direct).
* E.topic and E.topic.host: durable queues bound with those keys. Servers of a topic
  consume the shared one (competing consumers, round-robin) and their own host's one.
* E.topic.fanout: a durable fanout exchange; each server binds an exclusive,
  auto-delete queue of its own to it.
* E.reply.<uuid>: one exclusive reply queue per bus; replies are matched to calls by
  correlation id.

Calls are published mandatory with a per-message TTL equal to the call's timeout (a
call nobody took in time is dropped, never run late); casts are persistent. Publisher
confirms are on. A call whose message cannot be routed (no queue for that topic/host
was ever declared) fails at once with `Unreachable` (an RPCTimeout); a cast that cannot
be routed is dropped with a warning. Messages are acknowledged when a handler takes
them (at most once, like oslo.messaging RPC).

The RobustConnection reconnects after a broker or network failure and restores the
exchanges, queues, bindings and consumers; publishes made meanwhile wait for it within
the call's timeout. Calls in flight during a drop may lose their reply and time out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Awaitable, Sequence
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, DeliveryError, PublishError

from stackbox.bus import BusError, RPCTimeout, Unreachable, envelope

LOG = logging.getLogger("stackbox.bus.rabbit")

PREFETCH = 128  # unacknowledged messages per consumer channel
MAX_CONCURRENT = 64  # messages one server handles at a time
STOP_GRACE = 5.0  # seconds a stopping server lets running handlers finish
RECONNECT_INTERVAL = 1.0  # seconds between reconnection attempts


def amqp_url(url: str) -> str:
    """rabbit://... (oslo style) -> amqp://... (what aio-pika takes)."""
    scheme, rest = url.split("://", 1)
    return f"{'amqps' if scheme.lower() == 'amqps' else 'amqp'}://{rest}"


def _safe(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}"


class RabbitServer:
    """The handle `RabbitBus.serve()` returns."""

    def __init__(self, bus: RabbitBus, topic: str, host: str, endpoint: object) -> None:
        self.bus, self.topic, self.host, self.endpoint = bus, topic, host, endpoint
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self._handlers: set[asyncio.Task[Any]] = set()
        self._sem = asyncio.Semaphore(MAX_CONCURRENT)
        self._stopped = False

    async def _start(self, queues: Sequence[AbstractQueue]) -> None:
        for q in queues:
            tag = await q.consume(self._on_message)
            self._consumers.append((q, tag))

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        # Unacknowledged messages count against the channel's prefetch, so waiting
        # here is the back-pressure that keeps a busy server from taking more.
        async with self._sem:
            await self._handle(message)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        if self._stopped:
            with contextlib.suppress(*CONNECTION_EXCEPTIONS):
                await message.reject(requeue=True)
            return
        try:
            await message.ack()
        except CONNECTION_EXCEPTIONS:
            return  # the channel is gone: the broker will deliver it again elsewhere
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            reply = await envelope.dispatch(
                self.endpoint,
                message.body,
                topic=self.topic,
                host=self.host,
                expects_reply=bool(message.reply_to),
            )
            if message.reply_to:
                await self.bus._reply(message.reply_to, message.correlation_id, reply)
        finally:
            if task is not None:
                self._handlers.discard(task)

    async def stop(self) -> None:
        """Cancel the consumers, let running handlers finish (up to STOP_GRACE s)."""
        if self._stopped:
            return
        self._stopped = True
        self.bus._forget(self)
        for q, tag in self._consumers:
            await _quietly(q.cancel(tag))
        if self._consumers:  # the last one is this server's own fanout queue
            await _quietly(self._consumers[-1][0].delete(if_unused=False, if_empty=False))
        handlers = {t for t in self._handlers if t is not asyncio.current_task()}
        if handlers:
            _done, pending = await asyncio.wait(handlers, timeout=STOP_GRACE)
            for t in pending:
                t.cancel()


class RabbitBus:
    """The AMQP Bus. See the module docstring for topology and delivery rules."""

    def __init__(
        self, url: str, *, exchange: str = "stackbox", default_timeout: float = 60.0
    ) -> None:
        self.url = amqp_url(url)
        self.exchange_name = exchange
        self.default_timeout = default_timeout
        self.connection_name = f"stackbox {exchange} pid={os.getpid()} {uuid.uuid4().hex[:8]}"
        self._conn: AbstractRobustConnection | None = None
        self._pub: AbstractRobustChannel | None = None
        self._sub: AbstractRobustChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._fanouts: dict[str, AbstractExchange] = {}
        self._reply_queue: AbstractQueue | None = None
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self._servers: list[RabbitServer] = []
        self._declared_queues: set[str] = set()
        # routing keys whose casts are being dropped (warned once until one gets through)
        self._dropping: set[str] = set()

    # -- lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        try:
            self._conn = await aio_pika.connect_robust(
                self.url,
                timeout=10,
                reconnect_interval=RECONNECT_INTERVAL,
                client_properties={"connection_name": self.connection_name},
            )
        except CONNECTION_EXCEPTIONS as exc:
            raise BusError(
                f"cannot connect to the AMQP broker at {_safe(self.url)}: {exc}"
            ) from exc
        self._pub = await self._conn.channel(publisher_confirms=True, on_return_raises=True)
        self._sub = await self._conn.channel()
        await self._sub.set_qos(prefetch_count=PREFETCH)
        self._exchange = await self._pub.declare_exchange(
            self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        name = f"{self.exchange_name}.reply.{uuid.uuid4().hex}"
        self._reply_queue = await self._sub.declare_queue(name, exclusive=True, auto_delete=True)
        await self._reply_queue.consume(self._on_reply, no_ack=True)

    async def stop(self) -> None:
        for server in list(self._servers):
            await server.stop()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(BusError("the bus was stopped before the reply came"))
        self._pending.clear()
        self._pub = self._sub = self._exchange = self._reply_queue = None
        if self._conn is not None:
            await _quietly(self._conn.close())
            self._conn = None

    async def destroy(self) -> None:
        """Delete the exchanges and shared/direct queues this bus declared, over a
        short-lived connection of its own (for tests and throwaway exchange names).
        Call after stop(), once every bus using these names is stopped."""
        conn = await aio_pika.connect(self.url, timeout=10)
        try:
            ch = await conn.channel()
            for name in sorted(self._declared_queues):
                await ch.queue_delete(name)
            for topic in sorted(self._fanouts):
                await ch.exchange_delete(f"{self.exchange_name}.{topic}.fanout")
            await ch.exchange_delete(self.exchange_name)
        finally:
            await conn.close()

    def _ready(self) -> tuple[AbstractRobustChannel, AbstractExchange]:
        if self._pub is None or self._exchange is None:
            raise BusError("the bus is not started (call `await bus.start()` first)")
        return self._pub, self._exchange

    # -- publishing ----------------------------------------------------------------
    async def _publish(
        self, exchange: AbstractExchange, key: str, message: aio_pika.Message, *, mandatory: bool
    ) -> None:
        """Publish, waiting out a reconnection (the caller bounds the time)."""
        while True:
            try:
                await exchange.publish(message, key, mandatory=mandatory)
                return
            except (PublishError, DeliveryError):
                raise
            except CONNECTION_EXCEPTIONS as exc:
                LOG.debug("publish to %s failed (%s); waiting for the connection", key, exc)
                await asyncio.sleep(0.2)

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
        _pub, exchange = self._ready()
        assert self._reply_queue is not None
        timeout = self.default_timeout if timeout is None else timeout
        body = envelope.encode_request(method, kwargs)
        corr = uuid.uuid4().hex
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[corr] = fut
        message = aio_pika.Message(
            body,
            content_type="application/json",
            correlation_id=corr,
            message_id=corr,
            reply_to=self._reply_queue.name,
            expiration=timeout,
        )
        try:
            async with asyncio.timeout(timeout):
                await self._publish(exchange, _key(topic, host), message, mandatory=True)
                reply = await fut
        except PublishError:
            raise Unreachable(topic, method, host, timeout) from None
        except DeliveryError as exc:
            raise BusError(f"the broker refused the call {topic}.{method}: {exc}") from exc
        except TimeoutError:
            raise RPCTimeout(topic, method, host, timeout) from None
        finally:
            self._pending.pop(corr, None)
        return envelope.decode_reply(reply, topic=topic, method=method, host=host)

    async def cast(
        self, topic: str, method: str, /, *, host: str | None = None, **kwargs: Any
    ) -> None:
        _pub, exchange = self._ready()
        body = envelope.encode_request(method, kwargs)
        message = aio_pika.Message(
            body,
            content_type="application/json",
            message_id=uuid.uuid4().hex,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        key = _key(topic, host)
        try:
            async with asyncio.timeout(self.default_timeout):
                await self._publish(exchange, key, message, mandatory=True)
            self._dropping.discard(key)
        except PublishError:
            if key not in self._dropping:  # once until a cast gets through again
                self._dropping.add(key)
                LOG.warning(
                    "cast %s.%s dropped: no server for topic %s%s (further drops for it "
                    "are not logged until one gets through)",
                    topic,
                    method,
                    topic,
                    f" host {host}" if host else "",
                )
        except TimeoutError:
            raise RPCTimeout(
                topic, method, host, self.default_timeout, "the cast could not be published"
            ) from None

    async def fanout(self, topic: str, method: str, /, **kwargs: Any) -> None:
        self._ready()
        body = envelope.encode_request(method, kwargs)
        message = aio_pika.Message(
            body, content_type="application/json", message_id=uuid.uuid4().hex
        )
        try:
            async with asyncio.timeout(self.default_timeout):
                ex = await self._fanout_exchange(topic)
                await self._publish(ex, "", message, mandatory=False)
        except TimeoutError:
            raise RPCTimeout(
                topic, method, None, self.default_timeout, "the fanout could not be published"
            ) from None

    async def _fanout_exchange(self, topic: str) -> AbstractExchange:
        ex = self._fanouts.get(topic)
        if ex is None:
            pub, _ = self._ready()
            ex = await pub.declare_exchange(
                f"{self.exchange_name}.{topic}.fanout", aio_pika.ExchangeType.FANOUT, durable=True
            )
            self._fanouts[topic] = ex
        return ex

    async def _reply(self, reply_to: str, correlation_id: str | None, body: bytes) -> None:
        pub, _ = self._ready()
        message = aio_pika.Message(
            body, content_type="application/json", correlation_id=correlation_id
        )
        try:
            async with asyncio.timeout(self.default_timeout):
                await self._publish(pub.default_exchange, reply_to, message, mandatory=False)
        except TimeoutError:
            LOG.warning("could not send the reply to %s in time", reply_to)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        fut = self._pending.get(message.correlation_id or "")
        if fut is not None and not fut.done():
            fut.set_result(message.body)

    # -- serving -------------------------------------------------------------------
    async def serve(self, topic: str, endpoint: object, *, host: str) -> RabbitServer:
        self._ready()
        assert self._sub is not None and self._exchange is not None
        fanout_ex = await self._fanout_exchange(topic)
        queues = []
        for key in (topic, f"{topic}.{host}"):
            name = f"{self.exchange_name}.{key}"
            q = await self._sub.declare_queue(name, durable=True)
            await q.bind(self._exchange, routing_key=key)
            self._declared_queues.add(name)
            queues.append(q)
        name = f"{self.exchange_name}.{topic}.fanout.{host}.{uuid.uuid4().hex[:8]}"
        fq = await self._sub.declare_queue(name, exclusive=True, auto_delete=True)
        await fq.bind(fanout_ex)
        queues.append(fq)
        server = RabbitServer(self, topic, host, endpoint)
        await server._start(queues)
        self._servers.append(server)
        return server

    def _forget(self, server: RabbitServer) -> None:
        with contextlib.suppress(ValueError):
            self._servers.remove(server)


async def _quietly(aw: Awaitable[Any], timeout: float = 5.0) -> None:
    """Best-effort clean-up: a broker that is gone must not hang a shutdown."""
    try:
        async with asyncio.timeout(timeout):
            await aw
    except (TimeoutError, *CONNECTION_EXCEPTIONS) as exc:
        LOG.debug("clean-up step failed: %s", exc)


def _key(topic: str, host: str | None) -> str:
    return f"{topic}.{host}" if host else topic
