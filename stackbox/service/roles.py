"""The role registry: every service role stackbox can run, in one explicit list.

`ROLES` is read by `stackbox up` (`stackbox.allinone.start_roles`: every role whose
`allinone` is set, in list order, on the in-process bus), by `stackbox serve ROLE`
(`stackbox.service.runner.serve`) and by the CLI for its choices. A role is a `Role`
entry here and nothing else: its manager's builder, whether it holds database
credentials when served alone, its all-in-one recovery. `PLANNED` names roles the CLI
accepts but this version refuses with a clear message.

The builders import their service when called: the CLI reads this list to parse its
arguments, and importing every manager, libvirt and the API server up front costs
`stackbox status` or `config show` about 0.9 s (and `stackbox.api.serve_api` imports
the runner, which imports this list). What a role does belongs in its
manager, not here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from stackbox.config import Config

if TYPE_CHECKING:
    from stackbox.bus import Bus
    from stackbox.db import Database
    from stackbox.identity.tokens import TokenService

LOG = logging.getLogger("stackbox.service")


class RoleError(Exception):
    """A role cannot run; the message says why and what to do."""


@dataclass(frozen=True)
class RoleContext:
    """What a builder gets. `db` is None for a role served alone without database
    credentials; `identity` is the API's token service in the all-in-one process (None
    elsewhere: a builder that needs one makes its own)."""

    cfg: Config
    bus: Bus
    host: str
    db: Database | None
    identity: TokenService | None = None
    allinone: bool = False


class Tasks(Protocol):
    """A manager with work of its own beside answering the bus (`Role.tasks`)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


Build = Callable[[RoleContext], Awaitable[object]]
Serve = Callable[[Config, asyncio.Event], Awaitable[int]]
Recover = Callable[["Database"], None]


@dataclass(frozen=True)
class Role:
    """One role. `build` makes the manager served on the bus under `topic` (None: the
    role only heartbeats there); `serve` is the role's own process for `stackbox serve`
    when it is more than a manager (the API's HTTP server), else the runner serves
    `build`'s manager. `database`: it holds database credentials when served alone
    (else it reports through the conductor). `tasks`: the manager has `start()` (run
    once it is on the bus, retried until a conductor answers) and `stop()`. `recover`
    runs at the all-in-one start, before any role starts: in scale-out another process
    may be working on what it would repair."""

    name: str
    database: bool
    allinone: bool
    build: Build | None = None
    serve: Serve | None = None
    tasks: bool = False
    recover: Recover | None = None

    @property
    def topic(self) -> str:
        return self.name

    @property
    def binary(self) -> str:
        return f"stackbox-{self.name}"


async def _serve_api(cfg: Config, stop: asyncio.Event) -> int:
    from stackbox.api import serve_api

    return await serve_api.run(cfg, stop)


async def _conductor(ctx: RoleContext) -> object:
    from stackbox.api.server import make_identity
    from stackbox.conductor.manager import ConductorManager

    assert ctx.db is not None
    identity = ctx.identity if ctx.identity is not None else make_identity(ctx.cfg, ctx.db)
    return ConductorManager(ctx.db, ctx.host, bus=ctx.bus, identity=identity)


def _fail_interrupted_builds(db: Database) -> None:
    from stackbox.conductor.build import fail_interrupted_builds

    failed = fail_interrupted_builds(db)
    if failed:
        LOG.warning(
            "%d server(s) left waiting for a host by the last stop: see their faults", len(failed)
        )


async def _scheduler(ctx: RoleContext) -> object:
    from stackbox.scheduler.manager import SchedulerManager

    assert ctx.db is not None
    return SchedulerManager(ctx.cfg, ctx.db)


async def _compute(ctx: RoleContext) -> object:
    from stackbox.compute.manager import create

    if not ctx.allinone and not ctx.cfg.get("api", "public_url"):
        LOG.warning(
            "[api] public_url is not set: this compute host fetches images from and "
            "uploads snapshots to %s/image; set it to the API's URL",
            ctx.cfg.public_url,
        )
    manager = await create(ctx.cfg, ctx.bus, ctx.host)
    print(f"stackbox: compute uses {manager.virt_description}", flush=True)
    return manager


# In all-in-one start order: the compute host last (it reports to the conductor).
ROLES: tuple[Role, ...] = (
    Role("api", database=True, allinone=True, serve=_serve_api),
    Role(
        "conductor",
        database=True,
        allinone=True,
        build=_conductor,
        recover=_fail_interrupted_builds,
    ),
    Role("scheduler", database=True, allinone=True, build=_scheduler),
    Role("compute", database=False, allinone=True, build=_compute, tasks=True),
)
PLANNED: tuple[str, ...] = ("network", "volume")


def names() -> tuple[str, ...]:
    """The roles this version runs, in list order."""
    return tuple(r.name for r in ROLES)


def choices() -> tuple[str, ...]:
    """What `stackbox serve` accepts: every role, then the planned ones."""
    return names() + PLANNED


def allinone_roles() -> tuple[Role, ...]:
    return tuple(r for r in ROLES if r.allinone)


class RoleNotAvailable(RoleError):
    """The role is unknown, or not implemented in this version of stackbox."""

    def __init__(self, role: str) -> None:
        self.role = role
        available = ", ".join(names())
        if role in PLANNED:
            msg = (
                f"role '{role}' is not implemented yet in this version of stackbox; "
                f"available: {available}"
            )
        else:
            msg = f"unknown role '{role}'; available: {available}"
        super().__init__(msg)


def get(name: str) -> Role:
    """The role called `name`; RoleNotAvailable if this version has none."""
    for role in ROLES:
        if role.name == name:
            return role
    raise RoleNotAvailable(name)
