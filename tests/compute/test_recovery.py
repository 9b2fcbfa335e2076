"""Start-up repair (recovery.init_host) and the periodic power sync, on the real
LibvirtDriver (test:///default); and the all-in-one's repair of work that was waiting
for a host (conductor.build.fail_interrupted_builds) on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from uuid import uuid4

import pytest
from sqlalchemy import select

from stackbox import privileged
from stackbox.compute import recovery
from stackbox.compute import states as st
from stackbox.compute.models import ComputeNode, Instance, InstanceFault
from stackbox.conductor.build import fail_interrupted_builds
from stackbox.db import Database
from stackbox.scheduler import claims
from tests.compute.recording import ComputeRig, active
from tests.conductor.test_instances import make_instance as make_row

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


async def test_init_host_asks_to_error_a_resize_it_interrupted(rig: ComputeRig) -> None:
    moving, resized, idle = await active(rig), await active(rig), await active(rig)
    rig.set_task(moving, st.RESIZE_MIGRATED)
    rig.conductor.instances[resized]["vm_state"] = st.RESIZED  # a confirm may have died
    await recovery.init_host(rig.manager.ctx)
    assert sorted(rig.conductor.migration_steps) == sorted(
        [(moving, "stuck?"), (resized, "stuck?")]
    )
    assert rig.current(moving)["task_state"] is None and idle


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


async def test_init_host_removes_downloads_a_crash_cut_short(rig: ComputeRig) -> None:
    uuid = await active(rig)  # the image is in the cache: _base exists
    base = rig.instances_path / "_base"
    cached = {p.name for p in base.iterdir()}
    part = base / "0123456789abcdef.part-deadbeef"  # as ImageCache names its temp files
    part.write_bytes(b"\0" * 4096)
    await recovery.init_host(rig.manager.ctx)
    assert not part.exists()
    assert {p.name for p in base.iterdir()} == cached  # the finished base files stay
    assert rig.current(uuid)["vm_state"] == st.ACTIVE


def test_fail_interrupted_builds_frees_what_waited_for_a_host(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.session() as s:
            node = ComputeNode(
                uuid=str(uuid4()),
                host=f"h-{uuid4().hex[:8]}",
                hypervisor_hostname="h",
                vcpus=8,
                memory_mb=8192,
                local_gb=100,
            )
            s.add(node)
            s.flush()
            node_id = node.id
        scheduling = make_row(db, task_state=st.SCHEDULING, host=None)
        unshelving = make_row(
            db, vm_state=st.SHELVED_OFFLOADED, task_state=st.UNSHELVING, host=None
        )
        spawning = make_row(db)  # has a host: its compute service repairs it (init_host)
        with db.session() as s:
            for u in (scheduling, unshelving, spawning):
                assert claims.claim(s, node_id, u, 1, 512, 1)
        assert sorted(fail_interrupted_builds(db)) == sorted([scheduling, unshelving])
        with db.session() as s:
            state = {
                i.uuid: (i.vm_state, i.task_state)
                for i in s.scalars(
                    select(Instance).where(Instance.uuid.in_([scheduling, unshelving, spawning]))
                )
            }
            faults = {f.instance_uuid: f.message for f in s.scalars(select(InstanceFault))}
            held = {u: claims.allocations_of(s, u) for u in (scheduling, unshelving, spawning)}
            used = s.get(ComputeNode, node_id)
            assert used is not None and used.vcpus_used == 1
        assert state[scheduling] == (st.ERROR, None)
        assert state[unshelving] == (st.SHELVED_OFFLOADED, None)
        assert state[spawning] == (st.BUILDING, st.SPAWNING)
        assert "restart" in faults[scheduling] and "restart" in faults[unshelving]
        assert spawning not in faults
        assert (held[scheduling], held[unshelving]) == ([], [])
        assert len(held[spawning]) == 1
    finally:
        db.dispose()
