"""One suite, both transports (local:// and rabbit://): call, cast, fanout, addressing,
errors, timeouts, request ids, and (AMQP) recovery after the broker drops us."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
from collections.abc import Callable

import pytest

from stackbox import bus as sbbus
from stackbox import log as sblog
from tests.bus.conftest import NewBus


class Echo:
    """A test endpoint: async and sync methods, errors, private methods."""

    NOT_RPC = frozenset({"shutdown"})

    def __init__(self, host: str) -> None:
        self.host = host
        self.received: list[dict] = []

    async def hello(self, name: str, punct: str = "!") -> dict:
        return {"greeting": f"hello {name}{punct}", "host": self.host}

    def add(self, a: int, b: int) -> dict:
        return {"sum": a + b, "thread": threading.current_thread().name}

    def slow(self, seconds: float) -> str:
        time.sleep(seconds)
        return "slept"

    def echo_args(self, **kwargs: object) -> dict:
        return kwargs

    async def whoami(self) -> str:
        return self.host

    async def record(self, **kwargs: object) -> None:
        self.received.append(kwargs)

    def fail(self, message: str) -> None:
        raise ValueError(message)

    async def rid(self) -> str | None:
        return sblog.request_id.get()

    def rid_sync(self) -> str | None:
        return sblog.request_id.get()

    def _secret(self) -> str:
        return "private"

    def shutdown(self) -> str:  # public in Python, kept off the bus by NOT_RPC
        return "stopped"


async def until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_call_returns_result_with_kwargs(new_bus: NewBus) -> None:
    server_bus, client = await new_bus(), await new_bus()
    await server_bus.serve("echo", Echo("h1"), host="h1")
    got = await client.call("echo", "hello", name="world", punct="?")
    assert got == {"greeting": "hello world?", "host": "h1"}
    assert await client.call("echo", "hello", name="x") == {"greeting": "hello x!", "host": "h1"}


async def test_topic_and_method_can_be_argument_names(new_bus: NewBus) -> None:
    server_bus, client = await new_bus(), await new_bus()
    ep = Echo("h1")
    await server_bus.serve("echo", ep, host="h1")
    assert await client.call("echo", "echo_args", topic="t", method="m") == {
        "topic": "t",
        "method": "m",
    }
    await client.cast("echo", "record", topic="t2")
    await until(lambda: ep.received == [{"topic": "t2"}])


async def test_sync_method_runs_in_a_thread_without_blocking_the_loop(new_bus: NewBus) -> None:
    server_bus, client = await new_bus(), await new_bus()
    await server_bus.serve("echo", Echo("h1"), host="h1")
    got = await client.call("echo", "add", a=2, b=3)
    assert got["sum"] == 5
    assert got["thread"] != threading.current_thread().name
    t0 = time.monotonic()
    slow = asyncio.create_task(client.call("echo", "slow", seconds=0.5))
    await asyncio.sleep(0.05)
    assert await client.call("echo", "whoami") == "h1"  # answered while `slow` sleeps
    assert time.monotonic() - t0 < 0.45
    assert await slow == "slept"


async def test_cast_is_delivered(new_bus: NewBus) -> None:
    server_bus, client = await new_bus(), await new_bus()
    ep = Echo("h1")
    await server_bus.serve("echo", ep, host="h1")
    assert await client.cast("echo", "record", n=1) is None
    await client.cast("echo", "record", host="h1", n=2)
    await until(lambda: len(ep.received) == 2)
    assert sorted(r["n"] for r in ep.received) == [1, 2]


async def test_fanout_reaches_every_server_of_the_topic(new_bus: NewBus) -> None:
    eps = [Echo(f"h{i}") for i in range(3)]
    for ep in eps:
        await (await new_bus()).serve("echo", ep, host=ep.host)
    other = Echo("other")
    await (await new_bus()).serve("unrelated", other, host="h0")
    client = await new_bus()
    await client.fanout("echo", "record", what="refresh")
    await until(lambda: all(ep.received for ep in eps))
    assert [ep.received for ep in eps] == [[{"what": "refresh"}]] * 3
    await asyncio.sleep(0.1)
    assert other.received == []


async def test_host_directed_call_reaches_only_that_host(new_bus: NewBus) -> None:
    for h in ("h1", "h2", "h3"):
        await (await new_bus()).serve("echo", Echo(h), host=h)
    client = await new_bus()
    hosts = {await client.call("echo", "whoami", host="h2") for _ in range(10)}
    assert hosts == {"h2"}


async def test_shared_topic_is_round_robin(new_bus: NewBus) -> None:
    for h in ("h1", "h2"):
        await (await new_bus()).serve("echo", Echo(h), host=h)
    client = await new_bus()
    seen = [await client.call("echo", "whoami") for _ in range(10)]
    assert seen.count("h1") >= 3 and seen.count("h2") >= 3, seen


async def test_remote_exception_becomes_remote_error(new_bus: NewBus) -> None:
    server_bus, client = await new_bus(), await new_bus()
    await server_bus.serve("echo", Echo("h1"), host="h1")
    with pytest.raises(sbbus.RemoteError) as info:
        await client.call("echo", "fail", message="disk on fire")
    assert info.value.exc_type == "ValueError"
    assert info.value.message == "disk on fire"
    assert "echo.fail" in str(info.value) and "disk on fire" in str(info.value)


@pytest.mark.parametrize("method", ["no_such_thing", "_secret", "__init__", "shutdown"])
async def test_unknown_or_private_method_is_remote_error(new_bus: NewBus, method: str) -> None:
    server_bus, client = await new_bus(), await new_bus()
    await server_bus.serve("echo", Echo("h1"), host="h1")
    with pytest.raises(sbbus.RemoteError) as info:
        await client.call("echo", method)
    assert info.value.exc_type == "NoSuchMethod"
    assert method in info.value.message


async def test_call_to_a_host_nobody_serves_times_out(new_bus: NewBus) -> None:
    server_bus, client = await new_bus(), await new_bus()
    await server_bus.serve("echo", Echo("h1"), host="h1")
    t0 = time.monotonic()
    with pytest.raises(sbbus.RPCTimeout) as info:
        await client.call("echo", "whoami", host="ghost", timeout=1)
    assert time.monotonic() - t0 < 5
    text = str(info.value)
    assert "echo" in text and "ghost" in text and "whoami" in text
    with pytest.raises(sbbus.RPCTimeout):
        await client.call("nobody-serves-this", "whoami", timeout=1)


async def test_call_to_a_stopped_server_times_out_after_timeout(new_bus: NewBus) -> None:
    server_bus, client = await new_bus(), await new_bus()
    server = await server_bus.serve("echo", Echo("h1"), host="h1")
    assert await client.call("echo", "whoami", host="h1") == "h1"
    await server.stop()
    t0 = time.monotonic()
    with pytest.raises(sbbus.RPCTimeout) as info:
        await client.call("echo", "whoami", host="h1", timeout=1)
    waited = time.monotonic() - t0
    assert 0.9 <= waited < 5
    assert "1 s" in str(info.value) and "h1" in str(info.value)


async def test_request_id_propagates(new_bus: NewBus) -> None:
    server_bus, client = await new_bus(), await new_bus()
    await server_bus.serve("echo", Echo("h1"), host="h1")
    token = sblog.request_id.set("req-abc123")
    try:
        assert await client.call("echo", "rid") == "req-abc123"
        assert await client.call("echo", "rid_sync") == "req-abc123"
    finally:
        sblog.request_id.reset(token)
    assert await client.call("echo", "rid") is None


async def test_payload_must_be_json(new_bus: NewBus) -> None:
    client = await new_bus()
    await client.serve("echo", Echo("h1"), host="h1")
    with pytest.raises(sbbus.PayloadError):
        await client.call("echo", "record", thing=object())


async def test_stopped_server_gets_no_more_messages(new_bus: NewBus) -> None:
    b1, b2, client = await new_bus(), await new_bus(), await new_bus()
    ep1, ep2 = Echo("h1"), Echo("h2")
    s1 = await b1.serve("echo", ep1, host="h1")
    await b2.serve("echo", ep2, host="h2")
    await s1.stop()
    for i in range(4):
        await client.cast("echo", "record", i=i)
    await client.fanout("echo", "record", i="all")
    await until(lambda: len(ep2.received) == 5)
    assert ep1.received == []


def _drop_connections(names: list[str]) -> None:
    """Have the broker close our connections, as a broker restart or network cut would."""
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "client_properties", "--no-table-headers"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    pids = [line.split()[0] for line in out.splitlines() if any(name in line for name in names)]
    assert len(pids) == len(names), out
    for pid in pids:
        subprocess.run(
            ["rabbitmqctl", "-q", "close_connection", pid, "test: dropped"],
            capture_output=True,
            timeout=30,
            check=True,
        )


async def test_call_succeeds_after_the_broker_drops_the_connection(
    new_bus: NewBus, transport: str
) -> None:
    if not transport.startswith("rabbit"):
        pytest.skip("only the AMQP transport has a connection to lose")
    server_bus, client = await new_bus(), await new_bus()
    ep = Echo("h1")
    await server_bus.serve("echo", ep, host="h1")
    assert await client.call("echo", "whoami") == "h1"
    names = [server_bus.connection_name, client.connection_name]  # type: ignore[attr-defined]
    if shutil.which("rabbitmqctl"):
        await asyncio.to_thread(_drop_connections, names)
    else:  # no broker CLI: cut the sockets from our side instead
        for b in (server_bus, client):
            b._conn.transport.connection.writer.transport.abort()  # type: ignore[attr-defined]
    assert await client.call("echo", "whoami", timeout=15) == "h1"
    assert await client.call("echo", "whoami", host="h1", timeout=5) == "h1"
    await client.cast("echo", "record", after="drop")
    await client.fanout("echo", "record", after="drop-fanout")
    await until(lambda: len(ep.received) == 2, timeout=10)
