"""Services on the in-process bus: the conductor answers ping and heartbeats into the
DB, a worker without DB heartbeats through the conductor, stop() is clean, and
`run_role` runs the conductor and refuses roles this version does not have."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from stackbox import bus as sbbus
from stackbox import config as sbconfig
from stackbox.conductor.manager import ConductorManager
from stackbox.db import Database, migrate
from stackbox.service import registry, runner
from stackbox.service.runner import RoleError, RoleNotAvailable, Service


@pytest.fixture
def cfg(tmp_path: Path) -> sbconfig.Config:
    cfg = sbconfig.load(env={"STACKBOX_DEFAULT__STATE_DIR": str(tmp_path)})
    cfg.set("service", "report_interval", 0.1)
    return cfg


@pytest.fixture
async def bus() -> AsyncIterator[sbbus.Bus]:
    b = sbbus.connect("local://", default_timeout=5.0)
    await b.start()
    yield b
    await b.stop()


def counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {f"{r.binary}@{r.host}": r.report_count for r in registry.list_services(s)}


async def until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def conductor(cfg: sbconfig.Config, bus: sbbus.Bus, db: Database, host: str = "ctl1") -> Service:
    return Service(
        cfg,
        bus,
        db=db,
        binary="stackbox-conductor",
        topic="conductor",
        host=host,
        manager=ConductorManager(db, host),
    )


async def test_conductor_answers_ping_and_heartbeats(
    cfg: sbconfig.Config, bus: sbbus.Bus, db: Database
) -> None:
    svc = conductor(cfg, bus, db)
    await svc.start()
    try:
        assert counts(db) == {"stackbox-conductor@ctl1": 1}  # first report on start
        pong = await bus.call("conductor", "ping")
        assert pong["pong"] is True and pong["host"] == "ctl1"
        assert pong["time"].endswith("Z")
        assert (await bus.call("conductor", "ping", host="ctl1", extra=1))["pong"] is True
        await until(lambda: counts(db)["stackbox-conductor@ctl1"] >= 4)
        with db.session() as s:
            [row] = registry.status_rows(s, cfg.get("service", "service_down_time"))
        assert (row["binary"], row["state"], row["zone"]) == (
            "stackbox-conductor",
            "up",
            "internal",
        )
    finally:
        await svc.stop()


async def test_worker_without_db_heartbeats_through_the_conductor(
    cfg: sbconfig.Config, bus: sbbus.Bus, db: Database
) -> None:
    ctl = conductor(cfg, bus, db)
    await ctl.start()

    class ComputeManager:
        def hostname(self) -> str:
            return "cmp1"

    worker = Service(
        cfg, bus, binary="stackbox-compute", topic="compute", host="cmp1", manager=ComputeManager()
    )
    await worker.start()
    try:
        await until(lambda: counts(db).get("stackbox-compute@cmp1", 0) >= 3)
        assert await bus.call("compute", "hostname", host="cmp1") == "cmp1"
        with db.session() as s:
            rows = {r["binary"]: r for r in registry.status_rows(s, 60)}
        assert rows["stackbox-compute"]["zone"] == "nova"
        assert rows["stackbox-compute"]["state"] == "up"
    finally:
        await worker.stop()
        await ctl.stop()


async def test_api_service_heartbeats_without_serving(
    cfg: sbconfig.Config, bus: sbbus.Bus, db: Database
) -> None:
    api = Service(cfg, bus, db=db, binary="stackbox-api", topic="api", host="ctl1")
    await api.start()
    try:
        await until(lambda: counts(db).get("stackbox-api@ctl1", 0) >= 2)
        assert api.server is None
        with pytest.raises(sbbus.RPCTimeout):
            await bus.call("api", "anything", timeout=0.5)
    finally:
        await api.stop()


async def test_stop_is_clean_and_idempotent(
    cfg: sbconfig.Config, bus: sbbus.Bus, db: Database
) -> None:
    svc = conductor(cfg, bus, db)
    await svc.start()
    await svc.start()  # a second start is a no-op
    assert svc.running
    await svc.stop()
    assert not svc.running and svc.server is None
    settled = counts(db)
    await asyncio.sleep(0.35)
    assert counts(db) == settled  # no heartbeat after stop
    with pytest.raises(sbbus.RPCTimeout):
        await bus.call("conductor", "ping", host="ctl1", timeout=0.3)
    await svc.stop()


async def test_heartbeat_failures_do_not_stop_the_loop(cfg: sbconfig.Config) -> None:
    class FlakyBus:
        default_timeout = 1.0

        def __init__(self) -> None:
            self.casts: list[dict[str, Any]] = []

        async def cast(self, topic: str, method: str, /, **kwargs: Any) -> None:
            self.casts.append(kwargs)
            if len(self.casts) <= 2:
                raise sbbus.BusError("broker away")

    flaky = FlakyBus()
    svc = Service(
        cfg,
        flaky,
        binary="stackbox-volume",
        topic="volume",  # type: ignore[arg-type]
        host="vol1",
    )
    await svc.start()
    try:
        await until(lambda: len(flaky.casts) >= 4)
        assert flaky.casts[-1] == {
            "binary": "stackbox-volume",
            "topic": "volume",
            "service_host": "vol1",
        }
    finally:
        await svc.stop()


@pytest.mark.parametrize("role", ["network", "volume"])
async def test_unimplemented_roles_are_refused_clearly(cfg: sbconfig.Config, role: str) -> None:
    with pytest.raises(RoleNotAvailable) as info:
        await runner.run_role(cfg, role, asyncio.Event())
    assert str(info.value) == (
        f"role '{role}' is not implemented yet in this version of "
        "stackbox; available: api, conductor, scheduler, compute"
    )


async def test_unknown_role_and_api_are_refused(cfg: sbconfig.Config) -> None:
    with pytest.raises(
        RoleNotAvailable,
        match="unknown role 'bogus'; available: api, conductor, scheduler, compute",
    ):
        await runner.run_role(cfg, "bogus", asyncio.Event())
    with pytest.raises(RoleError, match="serve_api"):
        await runner.run_role(cfg, "api", asyncio.Event())


async def test_run_role_conductor_until_stopped(cfg: sbconfig.Config) -> None:
    db = Database(cfg.database_url)
    migrate.upgrade(db.engine)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run_role(cfg, "conductor", stop))
    try:
        host = cfg.get("default", "host")
        await until(lambda: counts(db).get(f"stackbox-conductor@{host}", 0) >= 2)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        db.dispose()


async def test_run_role_conductor_needs_a_migrated_database(cfg: sbconfig.Config) -> None:
    with pytest.raises(RoleError, match="stackbox db upgrade"):
        await runner.run_role(cfg, "conductor", asyncio.Event())
