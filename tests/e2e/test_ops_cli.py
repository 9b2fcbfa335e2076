"""The operator's compute views through the unmodified `openstack` CLI against a real
`stackbox up` on libvirt's test hypervisor (seed 002 §5.4.6, §5.4.10, §5.4.12): usage
list/show, hypervisor list/show/stats, compute service list/set, availability zones,
host list/show and `server show --diagnostics`."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Running

ADMIN = ("--os-cloud", "stackbox")
DEMO = ("--os-cloud", "stackbox-demo")
WAIT = 60


@pytest.fixture(scope="module")
def server(cloud_up: Running, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """An ACTIVE demo server on the test hypervisor (and the compute host's name)."""
    path: Path = tmp_path_factory.mktemp("img") / "small.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)
    img = f"ops-{uuid.uuid4().hex[:6]}"
    cloud_up.openstack(*ADMIN, "image", "create", "--public", "--disk-format", "qcow2",
                       "--file", str(path), img)  # fmt: skip
    name = f"ops-{uuid.uuid4().hex[:6]}"
    made = cloud_up.openstack_json(
        *DEMO, "server", "create", "--image", img, "--flavor", "m1.tiny", name
    )
    assert isinstance(made, dict)
    deadline = time.time() + WAIT
    while True:
        shown = cloud_up.openstack_json(*ADMIN, "server", "show", made["id"])
        assert isinstance(shown, dict)
        if shown["status"] == "ACTIVE" and not shown.get("OS-EXT-STS:task_state"):
            break
        assert shown["status"] != "ERROR" and time.time() < deadline, shown
        time.sleep(0.5)
    yield shown
    cloud_up.openstack(*DEMO, "server", "delete", "--wait", made["id"])


def _count(servers: object) -> int:
    """The CLI's "Servers" column: the server usages in JSON output, a count in a table."""
    return len(servers) if isinstance(servers, list) else int(str(servers))


def test_usage_list_and_show(cloud_up: Running, server: dict) -> None:
    project = cloud_up.openstack_json(*ADMIN, "project", "show", "demo")
    assert isinstance(project, dict)
    rows = cloud_up.openstack_json(*ADMIN, "usage", "list")
    assert isinstance(rows, list)
    (demo,) = [r for r in rows if r["Project"] == project["id"]]
    assert _count(demo["Servers"]) >= 1
    assert float(demo["RAM MB-Hours"]) > 0 and float(demo["CPU Hours"]) > 0
    shown = cloud_up.openstack_json(*ADMIN, "usage", "show", "--project", "demo")
    assert isinstance(shown, dict) and _count(shown["Servers"]) >= 1
    mine = cloud_up.openstack_json(*DEMO, "usage", "show")
    assert isinstance(mine, dict) and _count(mine["Servers"]) >= 1
    r = cloud_up.openstack(*DEMO, "usage", "list", check=False)
    assert r.returncode != 0 and "403" in r.stderr


def test_hypervisor_list_show_and_stats(cloud_up: Running, server: dict) -> None:
    host = server["OS-EXT-SRV-ATTR:host"]
    hyps = cloud_up.openstack_json(*ADMIN, "hypervisor", "list")
    assert isinstance(hyps, list) and len(hyps) == 1
    assert hyps[0]["State"] == "up"
    shown = cloud_up.openstack_json(*ADMIN, "hypervisor", "show", hyps[0]["Hypervisor Hostname"])
    assert isinstance(shown, dict) and shown["status"] == "enabled"
    assert shown["service_host"] == host
    stats = cloud_up.openstack_json(*ADMIN, "hypervisor", "stats", "show")
    assert isinstance(stats, dict)
    # running_vms is what the host last reported (periodically); the claims are live
    assert stats["count"] == 1 and stats["vcpus_used"] >= 1 and stats["memory_mb_used"] > 512


def test_compute_service_list_and_disable(cloud_up: Running, server: dict) -> None:
    host = server["OS-EXT-SRV-ATTR:host"]
    rows = cloud_up.openstack_json(*ADMIN, "compute", "service", "list")
    assert isinstance(rows, list)
    (cmp,) = [r for r in rows if r["Binary"] == "nova-compute"]
    assert (cmp["Host"], cmp["Status"], cmp["State"], cmp["Zone"]) == (
        host, "enabled", "up", "nova")  # fmt: skip
    cloud_up.openstack(*ADMIN, "compute", "service", "set", "--disable", "--disable-reason",
                       "fan replacement", host, "nova-compute")  # fmt: skip
    rows = cloud_up.openstack_json(*ADMIN, "compute", "service", "list", "--long")
    (cmp,) = [r for r in rows if r["Binary"] == "nova-compute"]  # type: ignore[union-attr]
    assert (cmp["Status"], cmp["Disabled Reason"]) == ("disabled", "fan replacement")
    zones = cloud_up.openstack_json(*ADMIN, "availability", "zone", "list", "--compute")
    assert {"Zone Name": "nova", "Zone Status": "not available"} in zones  # type: ignore[operator]
    cloud_up.openstack(*ADMIN, "compute", "service", "set", "--enable", host, "nova-compute")
    rows = cloud_up.openstack_json(*ADMIN, "compute", "service", "list")
    (cmp,) = [r for r in rows if r["Binary"] == "nova-compute"]  # type: ignore[union-attr]
    assert cmp["Status"] == "enabled"


def test_availability_zones_and_hosts(cloud_up: Running, server: dict) -> None:
    host = server["OS-EXT-SRV-ATTR:host"]
    zones = cloud_up.openstack_json(*DEMO, "availability", "zone", "list", "--compute")
    assert {"Zone Name": "nova", "Zone Status": "available"} in zones  # type: ignore[operator]
    long = cloud_up.openstack_json(*ADMIN, "availability", "zone", "list", "--compute", "--long")
    assert isinstance(long, list)
    assert any(z["Zone Name"] == "internal" for z in long)
    assert any(z["Host Name"] == host and "compute" in z["Service Name"] for z in long)
    hosts = cloud_up.openstack_json(*ADMIN, "host", "list")
    assert {"Host Name": host, "Service": "compute", "Zone": "nova"} in hosts  # type: ignore[operator]
    rows = cloud_up.openstack_json(*ADMIN, "host", "show", host)
    assert isinstance(rows, list)
    by_project = {r["Project"]: r for r in rows}
    assert {"(total)", "(used_now)", "(used_max)"} <= set(by_project)
    assert by_project["(used_max)"]["CPU"] >= 1 and by_project["(total)"]["Memory MB"] > 0


def test_server_show_diagnostics(cloud_up: Running, server: dict) -> None:
    diag = cloud_up.openstack_json(*ADMIN, "server", "show", "--diagnostics", server["id"])
    assert isinstance(diag, dict)
    assert diag["state"] == "running" and diag["driver"] == "libvirt"
    assert diag["num_disks"] >= 1 and diag["disk_details"][0]["read_bytes"] >= 0
    assert diag["memory_details"]["maximum"] == 512
    r = cloud_up.openstack(*DEMO, "server", "show", "--diagnostics", server["id"], check=False)
    assert r.returncode != 0 and "os-server-diagnostics to be performed" in r.stderr
