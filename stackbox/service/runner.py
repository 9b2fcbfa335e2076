"""The service runner: host one role (api, conductor, compute...) on the bus.

`Service` serves a manager object on the bus under its topic and host, and heartbeats
every `service.report_interval` seconds: straight into the database when it has one
(API, conductor), else by casting `service_heartbeat` to the conductor (agents in
scale-out hold no DB credentials). `serve` is what `stackbox serve ROLE` runs: the
role's own process when its registry entry has one (the API), else `run_role`.

Which roles exist and how each is built is `stackbox.service.roles.ROLES`; what a role
does belongs in its manager (`stackbox/<role>/manager.py`), not here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import cast

from stackbox import bus as sbbus
from stackbox.config import Config
from stackbox.db import Database, migrate
from stackbox.service import registry, roles
from stackbox.service.roles import RoleContext, RoleError, RoleNotAvailable

LOG = logging.getLogger("stackbox.service")

CONDUCTOR_RETRY_INTERVAL = 1.0  # seconds between a waiting host's attempts to start

__all__ = ["RoleError", "RoleNotAvailable", "Service", "make_bus", "run_role", "serve"]


class Service:
    """One role on the bus plus its heartbeat.

    `manager` is served on `topic` at `host` (None: heartbeat only, as for the API).
    With `db` the heartbeat is written directly; without, it is cast to the conductor.
    `report_interval` defaults to cfg service.report_interval."""

    def __init__(
        self,
        cfg: Config,
        bus: sbbus.Bus,
        *,
        db: Database | None = None,
        binary: str,
        topic: str,
        host: str,
        manager: object | None = None,
        report_interval: float | None = None,
    ) -> None:
        self.cfg, self.bus, self.db = cfg, bus, db
        self.binary, self.topic, self.host, self.manager = binary, topic, host, manager
        self.report_interval = float(
            report_interval
            if report_interval is not None
            else cfg.get("service", "report_interval")
        )
        self.server: sbbus.Server | None = None
        self._loop: asyncio.Task[None] | None = None
        self._failing = False

    @property
    def running(self) -> bool:
        return self._loop is not None and not self._loop.done()

    async def start(self) -> None:
        """Serve the manager, report once, then keep reporting in the background."""
        if self.running:
            return
        if self.manager is not None:
            self.server = await self.bus.serve(self.topic, self.manager, host=self.host)
        await self._report()
        self._loop = asyncio.create_task(
            self._heartbeat_loop(), name=f"heartbeat {self.binary}@{self.host}"
        )
        LOG.info(
            "%s started on %s (topic %s)",
            self.binary,
            self.host,
            self.topic,
            extra={"fields": {"report_interval": self.report_interval}},
        )

    async def stop(self) -> None:
        """Stop heartbeating and serving; idempotent."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        if self.server is not None:
            await self.server.stop()
            self.server = None
        LOG.info("%s stopped on %s", self.binary, self.host)

    async def heartbeat(self) -> None:
        """Report this service alive once (raises on failure)."""
        if self.db is not None:
            await asyncio.to_thread(self._write_heartbeat)
        else:
            await self.bus.cast(
                "conductor",
                "service_heartbeat",
                binary=self.binary,
                topic=self.topic,
                service_host=self.host,
            )

    def _write_heartbeat(self) -> None:
        assert self.db is not None
        with self.db.session() as s:
            registry.record_heartbeat(s, self.binary, self.topic, self.host)

    async def _report(self) -> None:
        try:
            await self.heartbeat()
        except Exception as exc:  # keep beating: the DB or broker may come back
            if not self._failing:
                LOG.warning(
                    "%s on %s: heartbeat failed: %s: %s",
                    self.binary,
                    self.host,
                    type(exc).__name__,
                    exc,
                )
            self._failing = True
        else:
            if self._failing:
                LOG.info("%s on %s: heartbeat works again", self.binary, self.host)
            self._failing = False

    async def _heartbeat_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += self.report_interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at = max(next_at, loop.time() - self.report_interval)  # no catch-up burst
            await self._report()


def make_bus(cfg: Config) -> sbbus.Bus:
    """The bus configured by [transport]."""
    return sbbus.connect(
        cfg.get("transport", "url"),
        exchange=cfg.get("transport", "exchange"),
        default_timeout=cfg.get("transport", "rpc_timeout"),
    )


async def serve(cfg: Config, name: str, stop_event: asyncio.Event) -> int:
    """`stackbox serve NAME` until `stop_event` is set: the role's own process when
    its entry has one, else `run_role`. Returns the exit status; raises RoleError."""
    role = roles.get(name)
    if role.serve is not None:
        return await role.serve(cfg, stop_event)
    await run_role(cfg, name, stop_event)
    return 0


async def run_role(cfg: Config, name: str, stop_event: asyncio.Event) -> None:
    """Serve the manager of role `name` until `stop_event` is set (scale-out).

    A role with `database` opens the database (its schema must be current); the others
    have none and report through the conductor. Raises RoleNotAvailable for roles this
    version cannot run, RoleError for a role with its own process (the API, which
    `stackbox.api.serve_api` serves) and when the database schema or the bus is not
    ready."""
    role = roles.get(name)
    if role.build is None:
        raise RoleError(f"role '{name}' is run by stackbox.api.serve_api, not run_role")
    db = Database(cfg.database_url, cfg.get("database", "pool_size")) if role.database else None
    try:
        if db is not None:
            await _check_schema(db)
        bus = make_bus(cfg)
        try:
            await bus.start()
        except sbbus.BusError as exc:
            raise RoleError(f"cannot start the {name}: {exc}") from exc
        try:
            await _run_manager(
                cfg, role, RoleContext(cfg, bus, cfg.get("default", "host"), db), stop_event
            )
        finally:
            await bus.stop()
    finally:
        if db is not None:
            db.dispose()


async def _run_manager(
    cfg: Config, role: roles.Role, ctx: RoleContext, stop_event: asyncio.Event
) -> None:
    assert role.build is not None
    manager = await role.build(ctx)
    svc = Service(
        cfg,
        ctx.bus,
        db=ctx.db,
        binary=role.binary,
        topic=role.topic,
        host=ctx.host,
        manager=manager,
    )
    try:
        await svc.start()
        if role.tasks and not await _start_tasks(role, cast(roles.Tasks, manager), stop_event):
            return
        print(f"stackbox: {role.name} ready on host {ctx.host}", flush=True)
        await stop_event.wait()
    finally:
        if role.tasks:
            await cast(roles.Tasks, manager).stop()
        await svc.stop()


async def _start_tasks(role: roles.Role, manager: roles.Tasks, stop_event: asyncio.Event) -> bool:
    """Start the manager's own tasks, waiting for a conductor to answer: in scale-out
    the processes start in any order, and a compute host started before its conductor
    must wait for it, not exit. False if `stop_event` was set first."""
    waiting = False
    while not stop_event.is_set():
        try:
            await manager.start()
        except sbbus.RPCTimeout as exc:  # Unreachable too: no conductor (yet)
            if not waiting:
                LOG.warning("%s waits for a conductor: %s", role.name, exc)
            waiting = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), CONDUCTOR_RETRY_INTERVAL)
        else:
            if waiting:
                LOG.info("%s: the conductor answers", role.name)
            return True
    return False


async def _check_schema(db: Database) -> None:
    have, want = await asyncio.to_thread(migrate.current, db.engine), migrate.head()
    if have != want:
        raise RoleError(
            f"database schema is at {have or 'nothing'}, this stackbox "
            f"needs {want}: run `stackbox db upgrade` first"
        )
