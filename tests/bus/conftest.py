"""Fixtures for the bus suite: every test runs on both transports.

`new_bus()` makes a started bus of the current transport; all buses of one test share a
unique exchange name (so runs never see each other's messages), and are stopped
and then destroyed (AMQP exchanges and queues deleted) afterwards."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from stackbox import bus as sbbus

RABBIT_URL = "rabbit://guest:guest@127.0.0.1:5672/"

NewBus = Callable[[], Awaitable[sbbus.Bus]]


def rabbit_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(params=["local", "rabbit"])
def transport(request: pytest.FixtureRequest) -> str:
    if request.param == "rabbit":
        if not rabbit_reachable():
            pytest.skip("RabbitMQ is not reachable at 127.0.0.1:5672")
        return RABBIT_URL
    return "local://"


@pytest.fixture
async def new_bus(transport: str) -> AsyncIterator[NewBus]:
    exchange = f"sbx-test-{uuid.uuid4().hex[:10]}"
    buses: list[sbbus.Bus] = []
    local: sbbus.Bus | None = None

    async def make() -> sbbus.Bus:
        nonlocal local
        if transport == "local://":
            # In-process: every "process" of the test shares the one bus, as in
            # all-in-one mode.
            if local is None:
                local = sbbus.connect(transport, default_timeout=5.0)
                await local.start()
                buses.append(local)
            return local
        b = sbbus.connect(transport, exchange=exchange, default_timeout=5.0)
        await b.start()
        buses.append(b)
        return b

    yield make
    for b in buses:
        await b.stop()
    for b in buses:
        destroy = getattr(b, "destroy", None)
        if destroy is not None:
            await destroy()
