"""Host aggregates, availability zones and server groups through the unmodified
`openstack` CLI against a running `stackbox up` (seed 002 §5.2.6: `aggregate create
--zone`, `aggregate set --property`, `aggregate add host`, then a zone to boot into)."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

from tests.e2e.conftest import Running

ADMIN = ("--os-cloud", "stackbox")
DEMO = ("--os-cloud", "stackbox-demo")


def _compute_host(cloud: Running) -> str:
    rows = cloud.openstack_json(*ADMIN, "compute", "service", "list")
    hosts = [r["Host"] for r in rows if "compute" in r["Binary"]]  # type: ignore[union-attr, index]
    assert hosts, rows
    return str(hosts[0])


def _wait_status(cloud: Running, server: str, want: str, timeout: float = 60) -> dict:
    end = time.time() + timeout
    shown: dict = {}
    while time.time() < end:
        shown = cloud.openstack_json(*DEMO, "server", "show", server)  # type: ignore[assignment]
        if shown["status"] in (want, "ERROR"):
            break
        time.sleep(0.5)
    assert shown.get("status") == want, shown
    return shown


def _image(cloud: Running, tmp: Path) -> str:
    path = tmp / "small.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)
    name = f"small-{uuid.uuid4().hex[:6]}"
    cloud.openstack(*ADMIN, "image", "create", "--file", str(path), "--disk-format", "qcow2",
                    "--container-format", "bare", "--public", name)  # fmt: skip
    return name


def test_aggregate_zone_property_host_and_boot_into_zone(cloud_up: Running, tmp_path: Path) -> None:
    os_ = cloud_up.openstack_json
    image = _image(cloud_up, tmp_path)
    pool, az = f"pool-{uuid.uuid4().hex[:6]}", f"az-{uuid.uuid4().hex[:6]}"
    host = _compute_host(cloud_up)
    created = os_(*ADMIN, "aggregate", "create", "--zone", az, pool)
    assert created["availability_zone"] == az and created["name"] == pool  # type: ignore[index]
    try:
        cloud_up.openstack(*ADMIN, "aggregate", "set", "--property", "ssd=true", pool)
        cloud_up.openstack(*ADMIN, "aggregate", "add", "host", pool, host)
        shown = os_(*ADMIN, "aggregate", "show", pool)
        assert shown["hosts"] == [host]  # type: ignore[index]
        props = shown["properties"]  # type: ignore[index]
        assert props.get("ssd") == "true" if isinstance(props, dict) else "ssd='true'" in props
        zones = {z["Zone Name"] for z in os_(*ADMIN, "availability", "zone", "list")}  # type: ignore[union-attr, index]
        assert az in zones
        names = {a["Name"] for a in os_(*ADMIN, "aggregate", "list")}  # type: ignore[union-attr, index]
        assert pool in names
        # the demo project may not touch aggregates
        r = cloud_up.openstack(*DEMO, "aggregate", "list", check=False)
        assert r.returncode != 0 and "403" in r.stderr
        # boot into the zone; the server reports it
        server = f"vm-{uuid.uuid4().hex[:6]}"
        cloud_up.openstack(*DEMO, "server", "create", "--flavor", "m1.tiny", "--image",
                           image, "--availability-zone", az, "--nic", "none",
                           server)  # fmt: skip
        shown = _wait_status(cloud_up, server, "ACTIVE")
        assert shown["OS-EXT-AZ:availability_zone"] == az
        cloud_up.openstack(*DEMO, "server", "delete", "--wait", server)
        # an unknown zone is refused
        r = cloud_up.openstack(*DEMO, "server", "create", "--flavor", "m1.tiny", "--image",
                               image, "--availability-zone", "nowhere", "--nic",
                               "none", "x", check=False)  # fmt: skip
        assert r.returncode != 0 and "400" in r.stderr
    finally:
        cloud_up.openstack(*ADMIN, "aggregate", "remove", "host", pool, host, check=False)
        cloud_up.openstack(*ADMIN, "aggregate", "delete", pool, check=False)
    assert pool not in {a["Name"] for a in os_(*ADMIN, "aggregate", "list")}  # type: ignore[union-attr, index]


def test_server_group_create_list_show_delete(cloud_up: Running) -> None:
    os_ = cloud_up.openstack_json
    name = f"grp-{uuid.uuid4().hex[:6]}"
    created = os_(*DEMO, "server", "group", "create", "--policy", "anti-affinity", name)
    assert created["name"] == name  # type: ignore[index]
    policy = created.get("policy") or created.get("policies")  # type: ignore[union-attr]
    assert "anti-affinity" in str(policy)
    assert name in {g["Name"] for g in os_(*DEMO, "server", "group", "list")}  # type: ignore[union-attr, index]
    shown = os_(*DEMO, "server", "group", "show", name)
    assert shown["id"] == created["id"]  # type: ignore[index]
    cloud_up.openstack(*DEMO, "server", "group", "delete", name)
    assert name not in {g["Name"] for g in os_(*DEMO, "server", "group", "list")}  # type: ignore[union-attr, index]
