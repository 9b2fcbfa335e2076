"""`openstack server migration list` (the unmodified CLI) against a real `stackbox up`
on libvirt's test hypervisor: a resize shows as a migration record, finished while it
waits for the confirm and confirmed after, in the columns of 2.1 and of 2.80; only
admins list them."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import Running

ADMIN = ("--os-cloud", "stackbox")
DEMO = ("--os-cloud", "stackbox-demo")
WAIT = 90


def _wait(cloud: Running, sid: str, status: str) -> dict:
    deadline = time.time() + WAIT
    while True:
        shown = cloud.openstack_json(*ADMIN, "server", "show", sid)
        assert isinstance(shown, dict)
        if shown["status"] == status and not shown.get("OS-EXT-STS:task_state"):
            return shown
        assert shown["status"] != "ERROR" and time.time() < deadline, shown
        time.sleep(0.5)


def _migrations(cloud: Running, sid: str, version: str = "", *options: str) -> list[dict]:
    mv = ("--os-compute-api-version", version) if version else ()
    rows = cloud.openstack_json(*ADMIN, *mv, "server", "migration", "list", "--server", sid,
                                *options)  # fmt: skip
    assert isinstance(rows, list)
    return rows


def test_server_migration_list_shows_a_resize(
    cloud_up: Running, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path: Path = tmp_path_factory.mktemp("img") / "small.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)
    img = f"mig-{uuid.uuid4().hex[:6]}"
    cloud_up.openstack(*ADMIN, "image", "create", "--public", "--disk-format", "qcow2",
                       "--file", str(path), img)  # fmt: skip
    made = cloud_up.openstack_json(*DEMO, "server", "create", "--image", img, "--flavor",
                                   "m1.tiny", f"mig-{uuid.uuid4().hex[:6]}")  # fmt: skip
    assert isinstance(made, dict)
    sid = made["id"]
    host = _wait(cloud_up, sid, "ACTIVE")["OS-EXT-SRV-ATTR:host"]
    cloud_up.openstack(*DEMO, "server", "resize", "--flavor", "m1.small", sid)
    _wait(cloud_up, sid, "VERIFY_RESIZE")

    (row,) = _migrations(cloud_up, sid)  # the CLI's default microversion: 2.1's columns
    assert (row["Status"], row["Server UUID"]) == ("finished", sid)
    assert (row["Source Compute"], row["Dest Compute"]) == (host, host)
    assert row["Old Flavor"] != row["New Flavor"] and isinstance(row["New Flavor"], int)
    (row,) = _migrations(cloud_up, sid, "2.80")
    assert row["Type"] == "resize" and len(row["UUID"]) == 36 and isinstance(row["Id"], int)

    cloud_up.openstack(*DEMO, "server", "resize", "confirm", sid)
    _wait(cloud_up, sid, "ACTIVE")
    deadline = time.time() + WAIT
    while _migrations(cloud_up, sid)[0]["Status"] != "confirmed":
        assert time.time() < deadline
        time.sleep(0.5)
    rows = _migrations(cloud_up, sid, "2.59", "--status", "confirmed", "--limit", "1")
    assert [r["UUID"] for r in rows] == [row["UUID"]]

    r = cloud_up.openstack(*DEMO, "server", "migration", "list", check=False)
    assert r.returncode != 0 and "os-migrations:index" in r.stderr
    cloud_up.openstack(*DEMO, "server", "delete", "--wait", sid)
    rows = cloud_up.openstack_json(*ADMIN, "server", "migration", "list")
    assert isinstance(rows, list) and sid not in {r["Server UUID"] for r in rows}
