"""A server's whole life through openstacksdk against a real `stackbox up` whose compute
host uses libvirt's own test hypervisor (`test:///default`): every CI run exercises the
API, conductor, scheduler, compute manager and libvirt driver together. The same life on
real QEMU is in test_compute_qemu.py."""

from __future__ import annotations

import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import openstack.config
import pytest

from tests.e2e.conftest import Running

WAIT = 60


def _conn(running: Running, cloud: str = "stackbox") -> openstack.connection.Connection:
    cfg = openstack.config.OpenStackConfig(
        config_files=[str(running.state_dir / "clouds.yaml")], load_envvars=False
    )
    return openstack.connection.Connection(config=cfg.get_one(cloud=cloud))


def _db(running: Running) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{running.state_dir / 'stackbox.db'}?mode=ro", uri=True)


@pytest.fixture(scope="module")
def image(cloud_up: Running, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("img") / "small.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)
    conn = _conn(cloud_up)
    img = conn.image.create_image(
        name=f"small-{uuid.uuid4().hex[:6]}",
        filename=str(path),
        disk_format="qcow2",
        container_format="bare",
        visibility="public",
    )
    yield img.id


def _wait(conn: openstack.connection.Connection, server: object, status: str) -> Any:
    """Poll until the server has `status` and no task (an action's 202 leaves the old
    status in place until the host picks the work up)."""
    deadline = time.time() + WAIT
    while True:
        now = conn.compute.get_server(server)
        if now.status == status and now.task_state is None:
            return now
        if (now.status == "ERROR" and status != "ERROR") or time.time() > deadline:
            raise AssertionError(
                f"server {now.id} is {now.status}/{now.task_state}, not {status}: {now.fault}"
            )
        time.sleep(0.2)


def test_server_life_on_the_test_hypervisor(cloud_up: Running, image: str) -> None:
    conn = _conn(cloud_up)
    key = conn.compute.create_keypair(name=f"k-{uuid.uuid4().hex[:6]}")
    server = conn.compute.create_server(
        name="s1", image_id=image, flavor_id="1", key_name=key.name, networks="none"
    )
    server = _wait(conn, server, "ACTIVE")
    assert server.vm_state == "active" and server.power_state == 1
    assert server.compute_host and server.flavor.original_name == "m1.tiny"
    inst_dir = cloud_up.state_dir / "instances" / server.id
    assert (inst_dir / "disk").is_file() and (inst_dir / "libvirt.xml").is_file()

    # the demo project neither lists nor finds the admin's server
    demo = _conn(cloud_up, "stackbox-demo")
    assert server.id not in {s.id for s in demo.compute.servers()}
    assert demo.compute.find_server(server.id) is None

    conn.compute.reboot_server(server, "SOFT")
    _wait(conn, server, "ACTIVE")
    conn.compute.reboot_server(server, "HARD")
    _wait(conn, server, "ACTIVE")
    conn.compute.stop_server(server)
    assert _wait(conn, server, "SHUTOFF").power_state == 4
    conn.compute.start_server(server)
    _wait(conn, server, "ACTIVE")
    conn.compute.pause_server(server)
    _wait(conn, server, "PAUSED")
    conn.compute.unpause_server(server)
    _wait(conn, server, "ACTIVE")
    conn.compute.suspend_server(server)
    _wait(conn, server, "SUSPENDED")
    conn.compute.resume_server(server)
    _wait(conn, server, "ACTIVE")

    snap_id = conn.compute.create_server_image(server, name="s1-snap", wait=True, timeout=WAIT)
    snap = conn.image.get_image(snap_id)
    assert snap.status == "active" and snap.properties.get("image_type") == "snapshot"

    conn.compute.resize_server(server, "2")
    _wait(conn, server, "VERIFY_RESIZE")
    conn.compute.confirm_server_resize(server)
    server = _wait(conn, server, "ACTIVE")
    assert server.flavor.original_name == "m1.small"

    actions = [a.action for a in conn.compute.server_actions(server)]
    for name in ("create", "reboot", "stop", "start", "pause", "suspend", "createImage", "resize"):
        assert name in actions

    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, interval=0.2, wait=WAIT)
    assert not inst_dir.exists()
    with _db(cloud_up) as db:
        left = db.execute(
            "SELECT count(*) FROM allocations WHERE consumer_id IN (?, ?)",
            (server.id, f"migration:{server.id}"),
        ).fetchone()[0]
    assert left == 0


def test_wrong_state_is_409_and_no_host_is_error(cloud_up: Running, image: str) -> None:
    conn = _conn(cloud_up)
    server = _wait(
        conn,
        conn.compute.create_server(name="s2", image_id=image, flavor_id="1", networks="none"),
        "ACTIVE",
    )
    with pytest.raises(openstack.exceptions.ConflictException):
        conn.compute.start_server(server)
    conn.compute.delete_server(server)
    # a flavor no host can hold: ERROR with Nova's fault (past the RAM quota first,
    # which would refuse it with 403 as Nova does)
    cloud_up.openstack("--os-cloud", "stackbox", "quota", "set", "--ram", "-1", "admin")
    big = conn.compute.create_flavor(
        name=f"huge-{uuid.uuid4().hex[:6]}", ram=1 << 30, vcpus=1, disk=1
    )
    s3 = conn.compute.create_server(name="s3", image_id=image, flavor_id=big.id, networks="none")
    s3 = _wait(conn, s3, "ERROR")
    assert "No valid host was found" in s3.fault["message"]
    conn.compute.delete_server(s3)
    conn.compute.wait_for_delete(s3, interval=0.2, wait=WAIT)


def test_multi_create_and_console(cloud_up: Running, image: str, tmp_path: Path) -> None:
    conn = _conn(cloud_up)
    name = f"m-{uuid.uuid4().hex[:4]}"
    conn.compute.create_server(
        name=name, image_id=image, flavor_id="1", networks="none", min_count=3, max_count=3
    )
    servers = [s for s in conn.compute.servers(name=f"^{name}")]
    assert len(servers) == 3
    for s in servers:
        _wait(conn, s, "ACTIVE")
    assert isinstance(conn.compute.get_server_console_output(servers[0])["output"], str)
    for s in servers:
        conn.compute.delete_server(s)
    for s in servers:
        conn.compute.wait_for_delete(s, interval=0.2, wait=WAIT)


def test_rebuild_revert_shelve_lock_and_reset(cloud_up: Running, image: str) -> None:
    conn = _conn(cloud_up)
    server = _wait(
        conn,
        conn.compute.create_server(name="s4", image_id=image, flavor_id="1", networks="none"),
        "ACTIVE",
    )
    conn.compute.rebuild_server(server, image, name="s4-rebuilt")
    server = _wait(conn, server, "ACTIVE")
    assert server.name == "s4-rebuilt"

    conn.compute.resize_server(server, "2")
    _wait(conn, server, "VERIFY_RESIZE")
    conn.compute.revert_server_resize(server)
    assert _wait(conn, server, "ACTIVE").flavor.original_name == "m1.tiny"

    # the lock and its reason (2.73) are shown, and lifted
    conn.compute.lock_server(server, locked_reason="maintenance")
    locked = conn.compute.get_server(server)
    assert locked.is_locked and locked.locked_reason == "maintenance"
    conn.compute.unlock_server(server)

    conn.compute.shelve_server(server)
    _wait(conn, server, "SHELVED_OFFLOADED")
    assert not (cloud_up.state_dir / "instances" / server.id).exists()
    with _db(cloud_up) as db:
        held = db.execute(
            "SELECT count(*) FROM allocations WHERE consumer_id = ?", (server.id,)
        ).fetchone()[0]
    assert held == 0  # an offloaded server holds no host resources
    conn.compute.unshelve_server(server)
    assert _wait(conn, server, "ACTIVE").compute_host

    conn.compute.reset_server_state(server, "error")
    assert _wait(conn, server, "ERROR").vm_state == "error"
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, interval=0.2, wait=WAIT)
    assert not (cloud_up.state_dir / "instances" / server.id).exists()
