"""A boot on the real LibvirtDriver (test:///default) carries the flavor's extra specs and
the image's properties into the guest; an image asking for UEFI on a host without OVMF
ends in ERROR with a fault naming the host (the compute-side half of hw_firmware_type)."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import pytest

from stackbox import privileged
from stackbox.compute import states as st
from tests.compute.recording import FLAVOR, HOST, IMG, ComputeRig, make_instance

pytestmark = pytest.mark.skipif(
    not privileged.available("qemu-img"), reason="needs qemu-img (qemu-utils) for real disks"
)

SHAPED = dict(
    FLAVOR,
    vcpus=2,
    extra_specs={
        "hw:cpu_sockets": "1",
        "hw:cpu_cores": "2",
        "hw:watchdog_action": "poweroff",
        "quota:cpu_shares": "512",
        "quota:disk_read_iops_sec": "200",
    },
)


def _image_meta(**props: str) -> dict:
    return {"id": IMG, "name": "tiny", "disk_format": "qcow2", "properties": props}


async def test_boot_applies_extra_specs_and_image_properties(rig: ComputeRig) -> None:
    inst = rig.add(make_instance(IMG, flavor=SHAPED, image_meta=_image_meta(hw_rng_model="virtio")))
    await rig.manager.build_and_run_instance(instance=inst, request_id="req-hw")
    assert rig.current(inst["uuid"])["vm_state"] == st.ACTIVE, rig.conductor.faults
    dom = ET.fromstring(rig.driver.domain_xml(inst["uuid"]))
    topo = dom.find("cpu/topology")
    assert topo is not None and (topo.get("sockets"), topo.get("cores")) == ("1", "2")
    assert dom.findtext("cputune/shares") == "512"
    wd = dom.find("devices/watchdog")
    assert wd is not None and wd.get("action") == "poweroff"
    assert dom.findtext("devices/disk/iotune/read_iops_sec") == "200"
    assert dom.findtext("devices/rng/backend") == "/dev/urandom"


async def test_uefi_image_on_a_host_without_ovmf_faults(rig: ComputeRig) -> None:
    rig.driver.host_config = dataclasses.replace(
        rig.driver.host_config, hostname=HOST, uefi_loader=None, uefi_vars=None
    )
    meta = _image_meta(hw_firmware_type="uefi")
    inst = rig.add(make_instance(IMG, image_meta=meta))
    await rig.manager.build_and_run_instance(instance=inst, request_id="req-uefi")
    assert rig.current(inst["uuid"])["vm_state"] == st.ERROR
    (fault,) = [f for f in rig.conductor.faults if f["uuid"] == inst["uuid"]]
    assert f"UEFI firmware (OVMF) is not installed on host {HOST}" in fault["message"]
