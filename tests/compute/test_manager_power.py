"""ComputeManager power actions over the bus, on the real LibvirtDriver (test:///default):
final states, action events, faults, per-instance serialization, terminate."""

from __future__ import annotations

import asyncio
import time

import pytest

from stackbox import privileged
from stackbox.compute import rpcapi
from stackbox.compute import states as st
from tests.compute.recording import (
    HOST,
    ComputeRig,
    active,
)

pytestmark = pytest.mark.skipif(
    not privileged.available("qemu-img"), reason="needs qemu-img (qemu-utils) for real disks"
)


async def cast_and_wait(rig: ComputeRig, uuid: str, action: str, task: str | None) -> dict:
    """Set the task state as the API would, cast over the bus, wait for the event."""
    inst = rig.set_task(uuid, task)
    done = len([e for e in rig.events_of(uuid) if e[1] != "start"])
    await rpcapi.ComputeAPI(rig.bus).simple_action(HOST, action, inst, f"req-{action}")
    for _ in range(200):
        if len([e for e in rig.events_of(uuid) if e[1] != "start"]) > done:
            break
        await asyncio.sleep(0.02)
    return rig.current(uuid)


async def test_power_cycle_over_the_bus(rig: ComputeRig) -> None:
    uuid = await active(rig)
    steps = [
        ("pause_instance", st.PAUSING, st.PAUSED, st.PAUSED_POWER),
        ("unpause_instance", st.UNPAUSING, st.ACTIVE, st.RUNNING),
        ("suspend_instance", st.SUSPENDING, st.SUSPENDED, None),
        ("resume_instance", st.RESUMING, st.ACTIVE, st.RUNNING),
        ("stop_instance", st.POWERING_OFF, st.STOPPED, st.SHUTDOWN),
        ("start_instance", st.POWERING_ON, st.ACTIVE, st.RUNNING),
    ]
    for action, task, vm_state, power in steps:
        inst = await cast_and_wait(rig, uuid, action, task)
        assert (inst["vm_state"], inst["task_state"]) == (vm_state, None), (action, inst)
        if power is not None:
            assert inst["power_state"] == power, action
        assert inst["power_state"] == rig.driver.state(uuid).power_state
        assert rig.events_of(uuid)[-1] == (f"compute_{action}", "Success")
    assert rig.conductor.faults == []


@pytest.mark.parametrize("kind", ["SOFT", "HARD"])
async def test_reboot(rig: ComputeRig, kind: str) -> None:
    uuid = await active(rig)
    task = st.REBOOTING if kind == "SOFT" else st.REBOOTING_HARD
    inst = rig.set_task(uuid, task)
    await rig.manager.reboot_instance(instance=inst, request_id="r", reboot_type=kind)
    inst = rig.current(uuid)
    assert (inst["vm_state"], inst["task_state"], inst["power_state"]) == (
        st.ACTIVE,
        None,
        st.RUNNING,
    )


async def test_hard_reboot_recreates_a_lost_guest(rig: ComputeRig) -> None:
    uuid = await active(rig)
    rig.driver.destroy(uuid)  # the hypervisor forgot it
    inst = rig.set_task(uuid, st.REBOOTING_HARD)
    await rig.manager.reboot_instance(instance=inst, request_id="r", reboot_type="HARD")
    assert rig.current(uuid)["vm_state"] == st.ACTIVE
    assert rig.driver.state(uuid).power_state == st.RUNNING


async def test_failed_stop_keeps_the_vm_state_and_records_a_fault(rig: ComputeRig) -> None:
    uuid = await active(rig)
    rig.driver.destroy(uuid)
    inst = await cast_and_wait(rig, uuid, "stop_instance", st.POWERING_OFF)
    assert (inst["vm_state"], inst["task_state"]) == (st.ACTIVE, None)
    [fault] = rig.conductor.faults
    assert fault["code"] == 500 and fault["uuid"] == uuid
    assert rig.events_of(uuid)[-1] == ("compute_stop_instance", "Error")


async def test_failed_reboot_sets_error(rig: ComputeRig) -> None:
    uuid = await active(rig)
    rig.driver.destroy(uuid)
    inst = rig.set_task(uuid, st.REBOOTING)
    await rig.manager.reboot_instance(instance=inst, request_id="r", reboot_type="SOFT")
    assert rig.current(uuid)["vm_state"] == st.ERROR


async def test_actions_on_one_instance_run_one_at_a_time(rig: ComputeRig) -> None:
    uuid = await active(rig)
    inst = rig.set_task(uuid, st.PAUSING)
    real_pause = rig.driver.pause

    def slow_pause(u: str) -> None:  # keep the pause in flight while the delete arrives
        time.sleep(0.3)
        real_pause(u)

    rig.driver.pause = slow_pause  # type: ignore[method-assign,assignment]

    async def delete_soon() -> None:
        await asyncio.sleep(0.05)
        await rig.manager.terminate_instance(instance=inst, request_id="b")

    await asyncio.gather(rig.manager.pause_instance(instance=inst, request_id="a"), delete_soon())
    assert rig.events_of(uuid)[2:] == [
        ("compute_pause_instance", "start"),
        ("compute_pause_instance", "Success"),
        ("compute_terminate_instance", "start"),
        ("compute_terminate_instance", "Success"),
    ]
    assert rig.conductor.faults == []


async def test_terminate_removes_guest_and_files(rig: ComputeRig) -> None:
    uuid = await active(rig)
    inst = rig.set_task(uuid, st.DELETING)
    await rig.manager.terminate_instance(instance=inst, request_id="d")
    assert rig.conductor.destroyed == [uuid]
    assert not (rig.instances_path / uuid).exists()
    assert uuid not in {g.uuid for g in rig.driver.list_guests()}


async def test_console_output_over_the_bus(rig: ComputeRig) -> None:
    uuid = await active(rig)
    (rig.instances_path / uuid / "console.log").write_text("boot\nstackbox-guest: ready\n")
    out = await rpcapi.ComputeAPI(rig.bus).get_console_output(HOST, rig.current(uuid), 1)
    assert out == "stackbox-guest: ready\n"


async def test_start_reports_resources_with_config(rig: ComputeRig) -> None:
    await rig.manager.start()
    [node] = rig.conductor.nodes
    assert node["host"] == HOST
    assert node["vcpus"] > 0 and node["memory_mb"] > 0
    assert node["cpu_allocation_ratio"] == 4.0
    assert node["reserved_host_memory_mb"] == 512
    assert node["availability_zone"] == "nova"
    await rig.manager.stop()
