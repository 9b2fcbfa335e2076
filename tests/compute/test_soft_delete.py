"""Deferred delete on the real LibvirtDriver (test:///default): soft_delete powers the
guest off and keeps it (SOFT_DELETED), restore powers it on (ACTIVE), and the periodic
reclaim removes the guest and its files of what the conductor hands it."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackbox import privileged
from stackbox.compute import states as st
from tests.compute.recording import IMG, active, compute_rig, make_image

pytestmark = pytest.mark.skipif(
    not privileged.available("qemu-img"), reason="needs qemu-img (qemu-utils) for real disks"
)
RECLAIM = {("compute", "reclaim_instance_interval"): 3600}


async def test_soft_delete_then_restore(tmp_path: Path) -> None:
    async for rig in compute_rig(tmp_path, cfg_overrides=RECLAIM):
        make_image(rig.store, IMG)
        uid = await active(rig)
        inst = rig.set_task(uid, st.SOFT_DELETING)
        await rig.manager.soft_delete_instance(instance=inst, request_id="d")
        now = rig.current(uid)
        assert (now["vm_state"], now["task_state"]) == (st.SOFT_DELETED, None)
        assert now["power_state"] == st.SHUTDOWN
        assert rig.driver.state(uid).power_state == st.SHUTDOWN  # kept, only off
        assert (rig.instances_path / uid / "disk").exists()
        assert ("compute_soft_delete_instance", "Success") in rig.events_of(uid)
        inst = rig.set_task(uid, st.RESTORING)
        await rig.manager.restore_instance(instance=inst, request_id="r")
        now = rig.current(uid)
        assert (now["vm_state"], now["task_state"], now["power_state"]) == (
            st.ACTIVE,
            None,
            st.RUNNING,
        )


async def test_reclaim_removes_what_the_conductor_hands_over(tmp_path: Path) -> None:
    async for rig in compute_rig(tmp_path, cfg_overrides=RECLAIM):
        make_image(rig.store, IMG)
        gone, kept = await active(rig), await active(rig)
        await rig.manager.soft_delete_instance(
            instance=rig.set_task(gone, st.SOFT_DELETING), request_id="d"
        )
        assert await rig.manager.reclaim_deleted() == [gone]
        assert rig.conductor.destroyed == [gone]
        assert not (rig.instances_path / gone).exists()
        assert rig.driver.state(kept).power_state == st.RUNNING
        assert await rig.manager.reclaim_deleted() == []


async def test_no_reclaim_without_an_interval(tmp_path: Path) -> None:
    async for rig in compute_rig(tmp_path):
        make_image(rig.store, IMG)
        uid = await active(rig)
        rig.conductor.instances[uid].update(vm_state=st.SOFT_DELETED)
        assert await rig.manager.reclaim_deleted() == []
        assert rig.conductor.destroyed == []
