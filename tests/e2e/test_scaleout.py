"""Scale-out: `stackbox serve api|conductor|scheduler|compute` as separate processes over
PostgreSQL and RabbitMQ. The controller roles share one config file; the compute host has
its own (no database, its own state dir: it fetches images from the Image API and uploads
snapshots to it with the conductor's service token). `stackbox status` sees every role,
and sees a killed one go down; a server lives its whole life across the processes."""

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
from typing import Any

import aio_pika
import httpx
import openstack
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
    env = {**os.environ, "STACKBOX_CONFIG": str(conf), "PYTHONFAULTHANDLER": "1"}
    compute_host = f"cmp-{name[-4:]}"
    compute_state = tmp_path / "compute-state"
    compute_conf = tmp_path / "compute.toml"
    compute_conf.write_text(f"""
[default]
host = "{compute_host}"
state_dir = "{compute_state}"
log_level = "INFO"
[transport]
url = "rabbit://guest:guest@127.0.0.1:5672/"
exchange = "{name}"
[api]
public_url = "http://127.0.0.1:{port}"
[compute]
virt_uri = "test:///default"
sync_power_state_interval = 2
[service]
report_interval = 0.5
service_down_time = 3
""")
    compute_env = {
        **os.environ,
        "STACKBOX_CONFIG": str(compute_conf),
        "PYTHONFAULTHANDLER": "1",
        "STACKBOX_COMPUTE__VIRT_URI": "test:///default",
    }
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
            "compute_env": compute_env,
            "compute_host": compute_host,
            "compute_state": compute_state,
            "db_url": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
            "logs": tmp_path,
        }
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:  # stuck: have it print its stacks
                    p.send_signal(signal.SIGABRT)
                    try:
                        p.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
        asyncio.run(_delete_broker_objects(name, f"ctl-{name[-4:]}", compute_host))


async def _delete_broker_objects(exchange: str, host: str, compute_host: str) -> None:
    """Remove what the processes declared under this test's exchange name."""
    conn = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/", timeout=10)
    try:
        ch = await conn.channel()
        topics = {"conductor": host, "scheduler": host, "compute": compute_host}
        for topic, on in topics.items():
            for queue in (f"{exchange}.{topic}", f"{exchange}.{topic}.{on}"):
                await ch.queue_delete(queue)
            await ch.exchange_delete(f"{exchange}.{topic}.fanout")
        await ch.exchange_delete(exchange)
    finally:
        await conn.close()


def _serve(ctx: dict, role: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`stackbox serve ROLE`, its output in LOGS/ROLE.log (kept for a post-mortem)."""
    with open(_log(ctx, role), "w") as out:
        p = subprocess.Popen(
            [str(BIN / "stackbox"), "serve", role],
            env=env or ctx["env"],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    ctx["procs"].append(p)
    return p


def _log(ctx: dict, role: str) -> Path:
    return Path(ctx["logs"]) / f"{role}.log"


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
    _serve(scaleout, "api")
    conductor = _serve(scaleout, "conductor")
    url = f"http://127.0.0.1:{scaleout['port']}"
    assert _wait(lambda: _api_ready(scaleout), 60), _drain(scaleout, "api")
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


def _api_ready(ctx: dict) -> bool:
    """`stackbox serve api` said it is ready (its app is built) and its port is open."""
    return "stackbox: api ready" in _drain(ctx, "api") and _port_open(ctx["port"])


def _drain(ctx: dict, role: str) -> str:
    """The end of what `role` printed, for an assertion message."""
    return _log(ctx, role).read_text()[-3000:]


def _sdk(ctx: dict) -> openstack.connection.Connection:
    return openstack.connection.Connection(
        auth_url=f"http://127.0.0.1:{ctx['port']}/identity",
        username="admin",
        password="scale-out-pw",
        project_name="admin",
        user_domain_name="Default",
        project_domain_name="Default",
        identity_api_version="3",
        region_name="RegionOne",
    )


def _server_wait(conn: openstack.connection.Connection, server: Any, status: str) -> Any:
    """Poll until the server has `status` and no task in flight."""
    deadline = time.time() + 30
    while True:
        now = conn.compute.get_server(server)
        if now.status == status and now.task_state is None:
            return now
        if (now.status == "ERROR" and status != "ERROR") or time.time() > deadline:
            raise AssertionError(
                f"server {now.id} is {now.status}/{now.task_state}, not {status}: {now.fault}"
            )
        time.sleep(0.2)


def test_server_life_across_separate_processes(scaleout: dict, tmp_path: Path) -> None:
    ctx = scaleout
    # The compute host comes first: it must wait for a conductor, not exit.
    compute = _serve(ctx, "compute", ctx["compute_env"])
    assert _wait(lambda: "waits for a conductor" in _drain(ctx, "compute"), 30), _drain(
        ctx, "compute"
    )
    assert compute.poll() is None
    _serve(ctx, "api")
    _serve(ctx, "scheduler")
    _serve(ctx, "conductor")
    assert _wait(lambda: _api_ready(ctx), 60), _drain(ctx, "api")
    want = {
        "stackbox-api": "up",
        "stackbox-conductor": "up",
        "stackbox-scheduler": "up",
        "stackbox-compute": "up",
    }
    assert _wait(lambda: _status(ctx) == want, 30), (_status(ctx), _drain(ctx, "compute"))
    # "up" is the heartbeat; schedulable is after the host reported its resources
    assert _wait(lambda: "compute ready on host" in _log(ctx, "compute").read_text(), 30), _drain(
        ctx, "compute"
    )

    conn = _sdk(ctx)
    path = tmp_path / "small.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)
    image = conn.image.create_image(
        name="so-small",
        filename=str(path),
        disk_format="qcow2",
        container_format="bare",
        visibility="private",  # fetched with a token of its owner's project
    )
    t0 = time.monotonic()
    server = conn.compute.create_server(
        name="so-1", image_id=image.id, flavor_id="1", networks="none"
    )
    server = _server_wait(conn, server, "ACTIVE")
    print(f"scale-out: POST -> ACTIVE (first image fetch over HTTP) {time.monotonic() - t0:.2f} s")
    assert server.compute_host == ctx["compute_host"]
    # The compute host has no image store: the base image came over HTTP from the API.
    cstate: Path = ctx["compute_state"]
    assert not (cstate / "images").exists()
    assert [p for p in (cstate / "instances" / "_base").iterdir() if p.suffix == ".info"]
    inst_dir = cstate / "instances" / server.id
    assert (inst_dir / "disk").is_file()

    conn.compute.stop_server(server)
    assert _server_wait(conn, server, "SHUTOFF").power_state == 4
    conn.compute.start_server(server)
    _server_wait(conn, server, "ACTIVE")

    # The snapshot is uploaded from the compute host to the Image API.
    snap_id = conn.compute.create_server_image(server, name="so-snap", wait=True, timeout=30).id
    snap = conn.image.get_image(snap_id)
    assert snap.status == "active" and snap.size and snap.size > 0
    assert snap.properties.get("image_type") == "snapshot"
    data = conn.image.download_image(snap_id)
    assert data.content[:4] == b"QFI\xfb"  # a qcow2 file

    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, interval=0.2, wait=30)
    assert not inst_dir.exists()
    engine = create_engine(ctx["db_url"])
    try:
        with engine.connect() as c:
            left = c.execute(text("SELECT count(*) FROM allocations")).scalar_one()
    finally:
        engine.dispose()
    assert left == 0
    conn.image.delete_image(snap_id)
    conn.image.delete_image(image.id)

    # A killed compute host goes down within service_down_time.
    compute.kill()
    compute.wait()
    t0 = time.time()
    assert _wait(lambda: _status(ctx).get("stackbox-compute") == "down", 10)
    print(f"scale-out: killed compute shown down after {time.time() - t0:.2f} s")
    assert time.time() - t0 <= 3 + 2  # service_down_time plus a polling margin
    assert _status(ctx)["stackbox-conductor"] == "up"
