"""The role registry is the one list: `stackbox serve` offers exactly its roles (and
the planned ones) and serves every one of them, and `stackbox up` starts exactly its
all-in-one roles."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from stackbox import allinone
from stackbox import bus as sbbus
from stackbox import config as sbconfig
from stackbox.db import Database, migrate
from stackbox.service import registry, roles, runner
from tests.service.test_runner import until

BIN = Path(sys.executable).parent / "stackbox"
RABBIT_URL = "rabbit://guest:guest@127.0.0.1:5672/"


def test_registry_entries_are_consistent() -> None:
    names = roles.names()
    assert len(set(names)) == len(names) and not set(names) & set(roles.PLANNED)
    for role in roles.ROLES:
        assert (role.build is None) != (role.serve is None), role.name  # exactly one way
        assert role.build is not None or not role.tasks, role.name
        assert roles.get(role.name) is role
    for name in roles.PLANNED:
        with pytest.raises(roles.RoleNotAvailable, match="not implemented yet"):
            roles.get(name)


def test_cli_serve_offers_exactly_the_registry() -> None:
    r = subprocess.run([str(BIN), "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    assert "{" + ",".join(roles.choices()) + "}" in r.stdout
    r = subprocess.run([str(BIN), "serve", "bogus"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "invalid choice: 'bogus'" in r.stderr


def _rabbit_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
        return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cfg(tmp_path: Path, **env: str) -> sbconfig.Config:
    return sbconfig.load(
        env={
            "STACKBOX_DEFAULT__STATE_DIR": str(tmp_path),
            "STACKBOX_COMPUTE__VIRT_URI": "test:///default",
            "STACKBOX_SERVICE__REPORT_INTERVAL": "0.2",
            **env,
        }
    )


def _up(db: Database, service_down_time: int = 30) -> set[str]:
    with db.session() as s:
        rows = registry.status_rows(s, service_down_time)
    return {r["binary"] for r in rows if r["state"] == "up"}


async def test_every_role_is_served_by_stackbox_serve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every role of the registry, run as `stackbox serve NAME` runs it (each its own
    bus connection, over RabbitMQ), reports itself up and says it is ready."""
    if not _rabbit_reachable():
        pytest.skip("needs RabbitMQ on 127.0.0.1:5672")
    port = _free_port()
    cfg = _cfg(
        tmp_path,
        STACKBOX_TRANSPORT__URL=RABBIT_URL,
        STACKBOX_TRANSPORT__EXCHANGE=f"sbx_roles_{uuid.uuid4().hex[:8]}",
        STACKBOX_API__BIND="127.0.0.1",
        STACKBOX_API__PORT=str(port),
        STACKBOX_API__PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    db = Database(cfg.database_url)
    migrate.upgrade(db.engine)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(runner.serve(cfg, name, stop)) for name in roles.names()]
    try:
        want = {role.binary for role in roles.ROLES}
        await until(lambda: _up(db) == want or any(t.done() for t in tasks), 60)
        assert _up(db) == want, [t.result() for t in tasks if t.done()]
        await until(lambda: "compute ready on host" in capsys.readouterr().out, 30)
    finally:
        stop.set()
        results = await asyncio.wait_for(asyncio.gather(*tasks), 30)
        db.dispose()
    assert results == [0] * len(tasks)


async def test_allinone_starts_exactly_the_registry_allinone_roles(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    db = Database(cfg.database_url)
    migrate.upgrade(db.engine)
    bus = sbbus.connect("local://", default_timeout=5.0)
    await bus.start()
    started = await allinone.start_roles(cfg, db, bus)
    try:
        assert _up(db) == {role.binary for role in roles.allinone_roles()}
        host = cfg.get("default", "host")
        assert (await bus.call("conductor", "ping", host=host))["pong"] is True
        with_tasks = [r for r in roles.allinone_roles() if r.tasks]
        assert len(started) == len(roles.allinone_roles()) + len(with_tasks)
    finally:
        for svc in reversed(started):
            await svc.stop()
        await bus.stop()
        db.dispose()
    assert not any(getattr(s, "running", False) for s in started)


def test_stackbox_serve_refuses_a_planned_role(tmp_path: Path) -> None:
    r = subprocess.run(
        [str(BIN), "serve", roles.PLANNED[0]],
        env={**os.environ, "STACKBOX_DEFAULT__STATE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "not implemented yet" in r.stderr
