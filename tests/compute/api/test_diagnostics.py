"""Server diagnostics: LibvirtDriver.diagnostics on libvirt's test:///default (which
answers memoryStats, vcpus, blockStats and interfaceStats), the 2.48 and legacy views,
and GET /servers/{id}/diagnostics through the bus to a compute endpoint that asks the
real driver."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid as uuidlib
from collections.abc import Iterator
from typing import Any

import libvirt
import pytest

from stackbox import bus as sbbus
from stackbox import config
from stackbox.compute import states
from stackbox.compute.api import server_diagnostics as view
from stackbox.virt import select
from stackbox.virt.config_metadata import NS_STACKBOX
from stackbox.virt.driver import GuestNotFound
from stackbox.virt.libvirt_driver import LibvirtDriver
from tests.compute.api.actions_helpers import HOST, make_instance, who
from tests.compute.api.conftest import Cloud, call

TEST_URI = "test:///default"
MAC = "fa:16:3e:00:00:01"
CLOUD = uuidlib.uuid4().hex  # the guest is marked as this cloud's, as the driver wants


def _domain_xml(uuid: str) -> str:
    return f"""<domain type='test'>
  <name>diag-{uuid[:8]}</name><uuid>{uuid}</uuid>
  <memory unit='KiB'>262144</memory><vcpu>2</vcpu>
  <metadata><stackbox:instance xmlns:stackbox="{NS_STACKBOX}">
    <stackbox:cloud id="{CLOUD}"/></stackbox:instance></metadata>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/nowhere/disk'/>
      <target dev='vda' bus='virtio'/></disk>
    <interface type='network'><mac address='{MAC}'/><source network='default'/>
      <target dev='tap-{uuid[:8]}'/></interface>
    <memballoon model='virtio'/>
  </devices>
</domain>"""


@pytest.fixture
def drv(tmp_path: Any) -> Iterator[LibvirtDriver]:
    host_config = select.guest_host_config(config.load(env={}), TEST_URI)
    d = LibvirtDriver(TEST_URI, host_config, tmp_path, cloud_id=CLOUD)
    yield d
    d.host.close()


@pytest.fixture
def guest() -> Iterator[str]:
    """A running test:///default domain with one disk and one NIC; its uuid."""
    uuid = str(uuidlib.uuid4())
    conn = libvirt.open(TEST_URI)
    dom = conn.defineXML(_domain_xml(uuid))
    dom.create()
    yield uuid
    dom.destroy()
    dom.undefine()
    conn.close()


def test_driver_diagnostics(drv: LibvirtDriver, guest: str) -> None:
    diag = drv.diagnostics(guest)
    assert (diag["state"], diag["driver"], diag["num_cpus"]) == ("running", "libvirt", 2)
    assert diag["memory"]["maximum_kb"] == 262144 and "actual" in diag["memory"]["stats"]
    assert [c["id"] for c in diag["cpus"]] == [0, 1]
    (disk,) = diag["disks"]
    assert disk["target"] == "vda" and disk["read_bytes"] > 0 and disk["write_requests"] > 0
    (nic,) = diag["nics"]
    assert nic["mac_address"] == MAC and nic["rx_octets"] > 0 and nic["tx_packets"] > 0
    with pytest.raises(GuestNotFound):
        drv.diagnostics(str(uuidlib.uuid4()))


def test_views_both_ways(drv: LibvirtDriver, guest: str) -> None:
    diag = drv.diagnostics(guest)
    std = view.standard(diag, config_drive=True)
    assert (std["num_disks"], std["num_nics"], std["config_drive"]) == (1, 1, True)
    assert std["memory_details"]["maximum"] == 256
    assert std["disk_details"][0]["read_bytes"] == diag["disks"][0]["read_bytes"]
    assert std["nic_details"][0]["mac_address"] == MAC
    old = view.legacy(diag)
    assert old["vda_read"] == diag["disks"][0]["read_bytes"] and old["memory"] == 262144
    assert old["cpu0_time"] == diag["cpus"][0]["time"]
    assert old[f"tap-{guest[:8]}_rx"] == diag["nics"][0]["rx_octets"]
    assert "memory-actual" in old


class DiagCompute:
    """The compute host's get_diagnostics, on the real driver (test:///default)."""

    def __init__(self, driver: LibvirtDriver) -> None:
        self.driver = driver

    async def get_diagnostics(self, instance: dict) -> dict:
        return await asyncio.to_thread(self.driver.diagnostics, instance["uuid"])


@pytest.fixture
def compute_bus(cloud: Cloud, drv: LibvirtDriver) -> Iterator[None]:
    state: Any = cloud.state
    portal = cloud.client.portal
    assert portal is not None
    old = state.bus
    local = sbbus.connect("local://", default_timeout=5.0)
    portal.call(local.start)
    portal.call(lambda: local.serve("compute", DiagCompute(drv), host=HOST))
    state.bus = local
    try:
        yield
    finally:
        state.bus = old
        portal.call(local.stop)


def test_api_diagnostics(
    cloud: Cloud, admin: dict, demo: dict, guest: str, compute_bus: None
) -> None:
    launched = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=1)
    make_instance(cloud, who(cloud, demo), uuid=guest, config_drive="True", launched_at=launched)
    r = call(cloud, "GET", f"/servers/{guest}/diagnostics", admin, "2.48")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "running" and body["config_drive"] is True
    assert 3600 <= body["uptime"] < 3700  # since launch: the test driver has no process
    assert body["num_disks"] == 1 and body["disk_details"][0]["read_requests"] > 0
    assert body["nic_details"][0]["mac_address"] == MAC
    r = call(cloud, "GET", f"/servers/{guest}/diagnostics", admin)
    assert r.status_code == 200 and "vda_read" in r.json() and "cpu0_time" in r.json()
    r = call(cloud, "GET", f"/servers/{guest}/diagnostics", demo)
    assert r.status_code == 403


def test_api_diagnostics_errors(cloud: Cloud, admin: dict, compute_bus: None) -> None:
    boss = who(cloud, admin)
    unplaced = make_instance(cloud, boss, states.BUILDING, states.SCHEDULING, host=None)
    r = call(cloud, "GET", f"/servers/{unplaced}/diagnostics", admin, "2.48")
    assert r.status_code == 409
    missing = str(uuidlib.uuid4())
    assert call(cloud, "GET", f"/servers/{missing}/diagnostics", admin).status_code == 404
    no_guest = make_instance(cloud, boss)  # the row says h1, the hypervisor has no such guest
    r = call(cloud, "GET", f"/servers/{no_guest}/diagnostics", admin, "2.48")
    assert r.status_code == 409
