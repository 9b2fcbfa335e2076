"""Same-host resize, confirm and revert on the real LibvirtDriver (test:///default)."""

from __future__ import annotations

import pytest

from stackbox import privileged
from stackbox.compute import disks
from stackbox.compute import states as st
from tests.compute.recording import FLAVOR, IMG, ComputeRig, make_instance

BIG = dict(FLAVOR, flavorid="3", name="m1.big", vcpus=2, memory_mb=256, root_gb=2, ephemeral_gb=1)

pytestmark = pytest.mark.skipif(
    not privileged.available("qemu-img"), reason="needs qemu-img (qemu-utils) for real disks"
)


async def resized(rig: ComputeRig, vm_state: str = st.ACTIVE) -> str:
    inst = rig.add(make_instance(IMG))
    uuid = inst["uuid"]
    await rig.manager.build_and_run_instance(instance=inst, request_id="b")
    if vm_state == st.STOPPED:
        await rig.manager.stop_instance(
            instance=rig.set_task(uuid, st.POWERING_OFF), request_id="s"
        )
    inst = rig.set_task(uuid, st.RESIZE_PREP)
    await rig.manager.resize_instance(instance=inst, request_id="r", new_flavor=BIG)
    return str(uuid)


def _vcpus(rig: ComputeRig, uuid: str) -> int:
    import xml.etree.ElementTree as ET

    return int(ET.fromstring(rig.driver.domain_xml(uuid)).findtext("vcpu") or 0)


async def test_resize_grows_disks_and_respawns(rig: ComputeRig) -> None:
    uuid = await resized(rig)
    inst = rig.current(uuid)
    assert (inst["vm_state"], inst["task_state"]) == (st.RESIZED, None), rig.conductor.faults
    assert inst["flavor"]["name"] == "m1.big"
    assert inst["old_flavor"]["name"] == "m1.tiny"
    assert inst["new_flavor"] is None
    idir = rig.instances_path / uuid
    assert disks.disk_info(idir / "disk").virtual_size == 2 * 1024**3
    assert disks.disk_info(idir / "disk.local").virtual_size == 1024**3
    assert (idir / "disk.resize-orig").exists()
    assert _vcpus(rig, uuid) == 2
    assert rig.driver.state(uuid).power_state == st.RUNNING
    steps = [(uuid, s) for s in ("migrating", "post-migrating", "finished")]
    assert rig.conductor.migration_steps == steps  # the migration record's, as Nova's


async def test_confirm_drops_backups_and_frees_the_old_claim(rig: ComputeRig) -> None:
    uuid = await resized(rig)
    await rig.manager.confirm_resize(instance=rig.current(uuid), request_id="c")
    inst = rig.current(uuid)
    assert (inst["vm_state"], inst["old_flavor"]) == (st.ACTIVE, None)
    assert inst["flavor"]["name"] == "m1.big"
    assert not (rig.instances_path / uuid / "disk.resize-orig").exists()
    assert rig.conductor.claims_done == [(uuid, True)]  # which marks it confirmed
    assert rig.conductor.migration_steps[-1] == (uuid, "finished")


async def test_revert_restores_old_disks_and_flavor(rig: ComputeRig) -> None:
    uuid = await resized(rig)
    inst = rig.set_task(uuid, st.RESIZE_REVERTING)
    await rig.manager.revert_resize(instance=inst, request_id="v")
    inst = rig.current(uuid)
    assert (inst["vm_state"], inst["task_state"]) == (st.ACTIVE, None), rig.conductor.faults
    assert inst["flavor"]["name"] == "m1.tiny" and inst["old_flavor"] is None
    idir = rig.instances_path / uuid
    assert disks.disk_info(idir / "disk").virtual_size == 1024**3
    assert not (idir / "disk.local").exists()
    assert not (idir / "disk.resize-orig").exists()
    assert _vcpus(rig, uuid) == 1
    assert rig.conductor.claims_done == [(uuid, False)]
    assert rig.conductor.migration_steps[-1] == (uuid, "reverted")


async def test_stopped_server_stays_stopped(rig: ComputeRig) -> None:
    uuid = await resized(rig, st.STOPPED)
    assert rig.current(uuid)["power_state"] == st.SHUTDOWN
    await rig.manager.confirm_resize(instance=rig.current(uuid), request_id="c")
    assert rig.current(uuid)["vm_state"] == st.STOPPED


async def test_shrinking_the_root_disk_fails_and_keeps_the_old_disk(rig: ComputeRig) -> None:
    inst = rig.add(make_instance(IMG, flavor=dict(FLAVOR, root_gb=2)))
    uuid = inst["uuid"]
    await rig.manager.build_and_run_instance(instance=inst, request_id="b")
    inst = rig.set_task(uuid, st.RESIZE_PREP)
    await rig.manager.resize_instance(instance=inst, request_id="r", new_flavor=FLAVOR)
    assert rig.current(uuid)["vm_state"] == st.ERROR
    assert "shrink" in rig.conductor.faults[0]["message"]
    assert rig.conductor.migration_steps[-1] == (uuid, "error")
    assert disks.disk_info(rig.instances_path / uuid / "disk").virtual_size == 2 * 1024**3
