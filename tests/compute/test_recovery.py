"""Start-up repair (recovery.init_host) and the periodic power sync, on the real
LibvirtDriver (test:///default)."""

from __future__ import annotations

import logging

import pytest

from stackbox import privileged
from stackbox.compute import recovery
from stackbox.compute import states as st
from tests.compute.recording import ComputeRig, active

pytestmark = pytest.mark.skipif(
    not privileged.available("qemu-img"), reason="needs qemu-img (qemu-utils) for real disks"
)


async def test_init_host_finishes_an_interrupted_delete(rig: ComputeRig) -> None:
    uuid = await active(rig)
    rig.set_task(uuid, st.DELETING)
    await recovery.init_host(rig.manager.ctx)
    assert rig.conductor.destroyed == [uuid]
    assert not (rig.instances_path / uuid).exists()
    assert uuid not in {g.uuid for g in rig.driver.list_guests()}


async def test_init_host_fails_an_interrupted_build(rig: ComputeRig) -> None:
    uuid = await active(rig)  # a guest and files exist, as if spawn had got that far
    rig.conductor.instances[uuid].update(vm_state=st.BUILDING, task_state=st.SPAWNING)
    await recovery.init_host(rig.manager.ctx)
    inst = rig.current(uuid)
    assert (inst["vm_state"], inst["task_state"]) == (st.ERROR, None)
    assert rig.conductor.faults[0]["message"] == recovery.BUILD_INTERRUPTED
    assert rig.conductor.released == [uuid]
    assert not (rig.instances_path / uuid).exists()
    assert uuid not in {g.uuid for g in rig.driver.list_guests()}


async def test_init_host_resets_interrupted_tasks(rig: ComputeRig) -> None:
    a, b = await active(rig), await active(rig)
    rig.set_task(a, st.IMAGE_UPLOADING)
    rig.set_task(b, st.POWERING_OFF)
    await recovery.init_host(rig.manager.ctx)
    assert rig.current(a)["task_state"] is None
    assert rig.current(a)["vm_state"] == st.ACTIVE
    assert (rig.current(b)["vm_state"], rig.current(b)["task_state"]) == (st.STOPPED, None)
    assert rig.driver.state(b).power_state == st.SHUTDOWN


async def test_unknown_guests_are_logged_never_destroyed(
    rig: ComputeRig, caplog: pytest.LogCaptureFixture
) -> None:
    uuid = await active(rig)
    rig.conductor.instances.pop(uuid)  # the hypervisor has a guest no instance owns
    with caplog.at_level(logging.WARNING, logger="stackbox.compute.recovery"):
        await recovery.init_host(rig.manager.ctx)
    assert uuid in caplog.text and "unknown guest" in caplog.text
    assert rig.driver.state(uuid).power_state == st.RUNNING
    assert (rig.instances_path / uuid).exists()


async def test_power_sync(rig: ComputeRig) -> None:
    uuids = [await active(rig) for _ in range(4)]
    running, shut, lost, busy = uuids
    rig.driver.power_off(shut, 0)
    rig.driver.destroy(lost)
    rig.driver.power_off(busy, 0)
    rig.set_task(busy, st.POWERING_ON)  # an action in progress: left alone
    changed = await rig.manager.sync_power()
    assert changed == 2
    assert rig.current(running)["vm_state"] == st.ACTIVE
    assert (rig.current(shut)["vm_state"], rig.current(shut)["power_state"]) == (
        st.STOPPED,
        st.SHUTDOWN,
    )
    assert rig.current(lost)["power_state"] == st.NOSTATE
    assert rig.current(lost)["vm_state"] == st.ACTIVE
    assert rig.current(busy)["power_state"] == st.RUNNING


async def test_init_host_stops_instances_whose_guest_the_hypervisor_lost(rig: ComputeRig) -> None:
    """A restarted hypervisor that forgot its guests (libvirt's test driver with the
    process, or a host reboot): the instance shows SHUTOFF, and `start` brings the guest
    back from its files."""
    lost, kept = await active(rig), await active(rig)
    rig.driver.destroy(lost)
    await recovery.init_host(rig.manager.ctx)
    inst = rig.current(lost)
    assert (inst["vm_state"], inst["task_state"], inst["power_state"]) == (
        st.STOPPED,
        None,
        st.NOSTATE,
    )
    assert (rig.instances_path / lost).exists()  # its disks are kept for `start`
    assert rig.current(kept)["vm_state"] == st.ACTIVE
    rig.set_task(lost, st.POWERING_ON)
    await rig.manager.start_instance(instance=rig.current(lost), request_id="s")
    assert (rig.current(lost)["vm_state"], rig.current(lost)["task_state"]) == (st.ACTIVE, None)
    assert rig.driver.state(lost).power_state == st.RUNNING
