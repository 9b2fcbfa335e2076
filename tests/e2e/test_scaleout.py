"""Scale-out: `stackbox serve api` and `stackbox serve conductor` as separate processes
over PostgreSQL and RabbitMQ, wired by one config file; `stackbox status` sees both,
and sees the conductor go down after it is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import httpx
import pytest
from sqlalchemy import create_engine, text

from stackbox import bus as sbbus
from tests.e2e.conftest import BIN, free_port

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _reachable(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def scaleout(tmp_path: Path) -> Iterator[dict]:
    if not _reachable(5432):
        pytest.skip("needs PostgreSQL on 127.0.0.1:5432")
    if not _reachable(5672):
        pytest.skip("needs RabbitMQ on 127.0.0.1:5672")
    name = f"sbx_so_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    port = free_port()
    conf = tmp_path / "stackbox.toml"
    conf.write_text(f"""
[default]
host = "ctl-{name[-4:]}"
state_dir = "{tmp_path / "state"}"
log_level = "INFO"
[database]
connection = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
[transport]
url = "rabbit://guest:guest@127.0.0.1:5672/"
exchange = "{name}"
[api]
bind = "127.0.0.1"
port = {port}
[identity]
admin_password = "scale-out-pw"
password_hash_memory_kib = 8192
[service]
report_interval = 0.5
service_down_time = 3
""")
    env = {**os.environ, "STACKBOX_CONFIG": str(conf)}
    procs: list[subprocess.Popen] = []
    try:
        subprocess.run(
            [str(BIN / "stackbox"), "db", "upgrade"],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield {
            "env": env,
            "port": port,
            "procs": procs,
            "conf": conf,
            "exchange": name,
            "host": f"ctl-{name[-4:]}",
        }
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
        asyncio.run(_delete_broker_objects(name, f"ctl-{name[-4:]}"))


async def _delete_broker_objects(exchange: str, host: str) -> None:
    """Remove what the processes declared under this test's exchange name."""
    conn = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/", timeout=10)
    try:
        ch = await conn.channel()
        for queue in (f"{exchange}.conductor", f"{exchange}.conductor.{host}"):
            await ch.queue_delete(queue)
        for ex in (f"{exchange}.conductor.fanout", exchange):
            await ch.exchange_delete(ex)
    finally:
        await conn.close()


def _serve(ctx: dict, role: str) -> subprocess.Popen:
    p = subprocess.Popen(
        [str(BIN / "stackbox"), "serve", role],
        env=ctx["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ctx["procs"].append(p)
    return p


def _status(ctx: dict) -> dict[str, str]:
    out = subprocess.run(
        [str(BIN / "stackbox"), "status"],
        env=ctx["env"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    states = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 6 and cells[1].startswith("stackbox-"):
            states[cells[1]] = cells[5]
    return states


def _wait(pred, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.3)
    return False


def test_api_and_conductor_over_postgres_and_rabbitmq(scaleout: dict) -> None:
    api = _serve(scaleout, "api")
    conductor = _serve(scaleout, "conductor")
    url = f"http://127.0.0.1:{scaleout['port']}"
    assert _wait(lambda: _port_open(scaleout["port"]), 60), _drain(api)
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "admin",
                        "domain": {"name": "Default"},
                        "password": "scale-out-pw",
                    }
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
        }
    }
    r = httpx.post(f"{url}/identity/v3/auth/tokens", json=body)
    assert r.status_code == 201, r.text
    h = {"X-Auth-Token": r.headers["X-Subject-Token"]}
    r = httpx.post(f"{url}/identity/v3/projects", json={"project": {"name": "so-p1"}}, headers=h)
    assert r.status_code == 201, r.text
    assert (
        httpx.get(f"{url}/identity/v3/projects/{r.json()['project']['id']}", headers=h).status_code
        == 200
    )

    assert _wait(
        lambda: _status(scaleout) == {"stackbox-api": "up", "stackbox-conductor": "up"}, 30
    ), _status(scaleout)
    # The conductor answers an RPC ping over RabbitMQ, addressed to its host.
    pong = asyncio.run(_ping(scaleout["exchange"], scaleout["host"]))
    assert pong["pong"] is True and pong["host"] == scaleout["host"]

    conductor.kill()
    conductor.wait()
    t0 = time.time()
    assert _wait(lambda: _status(scaleout).get("stackbox-conductor") == "down", 10)
    assert time.time() - t0 <= 3 + 2  # service_down_time plus a polling margin
    assert _status(scaleout)["stackbox-api"] == "up"


def test_unimplemented_role_refuses_clearly(scaleout: dict) -> None:
    r = subprocess.run(
        [str(BIN / "stackbox"), "serve", "network"],
        env=scaleout["env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0
    assert "network" in r.stderr and "not" in r.stderr


async def _ping(exchange: str, host: str) -> dict:
    bus = sbbus.connect("rabbit://guest:guest@127.0.0.1:5672/", exchange=exchange)
    await bus.start()
    try:
        return await bus.call("conductor", "ping", host=host, timeout=10)
    finally:
        await bus.stop()


def _port_open(port: int) -> bool:
    return _reachable(port)


def _drain(p: subprocess.Popen) -> str:
    if p.poll() is None:
        return "still running"
    return p.stdout.read() if p.stdout else ""
