"""One real QEMU (TCG) boot through the compute manager: the stackbox test guest finds
its config drive (a read-only virtio disk) and prints its instance uuid on the serial
console; then stop (ACPI power-off) and terminate. Also a direct kernel boot."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stackbox import privileged
from stackbox.compute import states as st
from stackbox.guest.build import GuestArtifacts, build_test_guest, default_cache_dir
from stackbox.guest.debs import GuestBuildError
from stackbox.virt.daemon import LibvirtUnavailable, ensure_libvirtd
from tests.compute.recording import FLAVOR, ComputeRig, compute_rig, make_instance

IMG = "51111111-2222-4333-8444-555555555555"
KERNEL = "52222222-2222-4333-8444-555555555555"
RAMDISK = "53333333-2222-4333-8444-555555555555"
READY = re.compile(r"stackbox-guest: ready instance=(\S+)")
QEMU_URI = "qemu:///system"


@pytest.fixture(scope="module")
def guest() -> GuestArtifacts:
    if os.geteuid() != 0:
        pytest.skip("booting guests needs root (libvirtd on qemu:///system)")
    if not privileged.available("qemu-system-x86_64"):
        pytest.skip("QEMU is not installed (qemu-system-x86)")
    try:
        ensure_libvirtd()
    except LibvirtUnavailable as exc:
        pytest.skip(f"libvirtd cannot start here: {exc}")
    cache = default_cache_dir()
    try:
        return build_test_guest(cache / "artifacts", cache)
    except GuestBuildError as exc:
        pytest.skip(f"cannot build the test guest on this host: {exc}")


@pytest.fixture
async def rig(tmp_path: Path, guest: GuestArtifacts) -> AsyncIterator[ComputeRig]:
    overrides = {("compute", "shutdown_timeout"): 30.0}
    async for r in compute_rig(tmp_path, cfg_overrides=overrides, uri=QEMU_URI):
        shutil.copy(guest.disk, r.store / IMG)
        shutil.copy(guest.kernel, r.store / KERNEL)
        shutil.copy(guest.ramdisk, r.store / RAMDISK)
        yield r


async def wait_ready(rig: ComputeRig, uuid: str, timeout: float = 90) -> str:
    log = rig.instances_path / uuid / "console.log"
    for _ in range(int(timeout * 2)):
        text = log.read_text(errors="replace") if log.exists() else ""
        if m := READY.search(text):
            return m.group(1)
        await asyncio.sleep(0.5)
    raise AssertionError(f"no ready line after {timeout}s:\n{text[-2000:]}")


async def test_guest_boots_from_its_image_and_reads_the_config_drive(rig: ComputeRig) -> None:
    inst = rig.add(make_instance(IMG, config_drive="True", flavor=dict(FLAVOR, memory_mb=256)))
    uuid = inst["uuid"]
    await rig.manager.build_and_run_instance(instance=inst, request_id="b")
    assert rig.current(uuid)["vm_state"] == st.ACTIVE, rig.conductor.faults
    assert await wait_ready(rig, uuid) == uuid
    await rig.manager.stop_instance(instance=rig.set_task(uuid, st.POWERING_OFF), request_id="s")
    assert (rig.current(uuid)["vm_state"], rig.current(uuid)["power_state"]) == (
        st.STOPPED,
        st.SHUTDOWN,
    )
    await rig.manager.terminate_instance(instance=rig.set_task(uuid, st.DELETING), request_id="d")
    assert rig.conductor.destroyed == [uuid]


async def test_direct_kernel_boot(rig: ComputeRig) -> None:
    meta = {"id": IMG, "disk_format": "qcow2", "properties": {}}
    meta["properties"] = {"kernel_id": KERNEL, "ramdisk_id": RAMDISK}
    inst = rig.add(
        make_instance(IMG, image_meta=meta, config_drive="True", flavor=dict(FLAVOR, memory_mb=256))
    )
    uuid = inst["uuid"]
    await rig.manager.build_and_run_instance(instance=inst, request_id="b")
    assert rig.current(uuid)["vm_state"] == st.ACTIVE, rig.conductor.faults
    xml = rig.driver.domain_xml(uuid)
    assert "<kernel>" in xml and "<initrd>" in xml
    assert await wait_ready(rig, uuid) == uuid
    await rig.manager.terminate_instance(instance=rig.set_task(uuid, st.DELETING), request_id="d")
