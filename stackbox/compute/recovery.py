"""Keeping the compute host's guests and the instance records in agreement.

* `init_host` -- at service start, adopt the guests of this host's instances made before
  clouds had ids (mark them as this cloud's: `virt/ownership.py`; the driver sees no
  other domain), then repair what a crash or stop left half-done: finish
  deletes, fail builds that were interrupted (fault + ERROR + release resources),
  set a migration left mid-step (a resize, its confirm or revert) to error as Nova
  does, fail interrupted rescues and unrescues (the guest's own definition back, fault +
  ERROR: `rescue.interrupted`; a RESCUED instance stays rescued), finish or reset
  interrupted actions, and LOG (never destroy) hypervisor guests that
  belong to no instance of this host (of this cloud only: other clouds' guests on the
  same libvirtd are not ours to judge); remove the temp files of image downloads a crash
  cut short (ImageCache.cleanup). An instance that should be running but whose
  guest the hypervisor no longer has at all (libvirt's test driver forgets its guests
  with the process; a host reboot with transient domains) becomes STOPPED (SHUTOFF,
  power NOSTATE), as Nova leaves guests after a host reboot when
  resume_guests_state_on_host_boot is off; `start` re-creates the guest from its files.
* `sync_power_states` -- the periodic task: the hypervisor's power state wins; an ACTIVE
  instance whose guest is shut off becomes STOPPED (as Nova's sync stops it); a missing
  guest is reported as NOSTATE.

Not here: the periodic scheduling itself (manager.py), locks (the manager passes
`busy(uuid)` so instances with an action in progress are skipped).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stackbox import bus as sbbus
from stackbox.compute import boot, power, rescue
from stackbox.compute import states as st
from stackbox.virt.driver import GuestNotFound

if TYPE_CHECKING:
    from stackbox.compute.manager import Context

LOG = logging.getLogger(__name__)

BUILD_INTERRUPTED = "Instance was being built when the compute service restarted"
# vm_states whose instances have no guest on this host, by design.
NO_GUEST = frozenset({st.SHELVED_OFFLOADED, st.DELETED, st.SOFT_DELETED})
# vm_states whose guest must exist (defined) for the instance to make sense as it is.
GUEST_EXPECTED = frozenset({st.ACTIVE, st.PAUSED, st.SUSPENDED})
# Tasks of a resize (and its revert) whose migration a restart leaves stuck; a
# confirm runs without a task, on a RESIZED instance.
RESIZE_TASKS = frozenset(
    {st.RESIZE_PREP, st.RESIZE_MIGRATING, st.RESIZE_MIGRATED, st.RESIZE_FINISH,
     st.RESIZE_REVERTING}
)  # fmt: skip


async def init_host(ctx: Context) -> None:
    instances = await ctx.conductor.instances_for_host(ctx.host)
    for inst in instances:
        try:
            if await asyncio.to_thread(ctx.driver.adopt, inst["uuid"]):
                LOG.info("guest of instance %s marked as this cloud's", inst["uuid"])
            await repair(ctx, inst)
        except Exception:
            LOG.exception("cannot repair instance %s at start-up", inst.get("uuid"))
    for left in await asyncio.to_thread(ctx.images.cleanup):
        LOG.info("removed %s, left in the image cache by an interrupted download", left)
    known = {inst["uuid"] for inst in instances}
    for guest in await asyncio.to_thread(ctx.driver.list_guests):
        if guest.uuid not in known:
            LOG.warning(
                "unknown guest %s (%s) on this hypervisor: it is no instance of host %s; "
                "left alone",
                guest.name,
                guest.uuid,
                ctx.host,
            )


async def repair(ctx: Context, inst: dict[str, Any]) -> None:
    """Bring one instance of this host back to a consistent state."""
    uuid, task, vm = inst["uuid"], inst.get("task_state"), inst.get("vm_state")
    if task == st.DELETING:
        LOG.info("finishing the interrupted delete of instance %s", uuid)
        await asyncio.to_thread(boot.cleanup, ctx, uuid)
        await ctx.conductor.instance_destroyed(uuid)
        return
    if task in RESIZE_TASKS or vm == st.RESIZED:
        await ctx.conductor.fail_stuck_migration(uuid)
    if vm == st.BUILDING:
        LOG.warning("instance %s: %s; setting it to ERROR", uuid, BUILD_INTERRUPTED)
        await asyncio.to_thread(boot.cleanup, ctx, uuid)
        await ctx.conductor.instance_fault_create(uuid, 500, BUILD_INTERRUPTED, "", ctx.host)
        await ctx.update(uuid, {"vm_state": st.ERROR, "task_state": None})
        await ctx.conductor.release_resources(uuid)
        return
    if task in (st.RESCUING, st.UNRESCUING):
        LOG.warning("instance %s: interrupted while %s; setting it to ERROR", uuid, task)
        await rescue.interrupted(ctx, inst)
        return
    if task == st.POWERING_OFF:
        await ctx.update(uuid, await power.stop(ctx, inst))
        return
    if task == st.POWERING_ON:
        await ctx.update(uuid, await power.start(ctx, inst))
        return
    actual = await _state(ctx, uuid)
    if vm in GUEST_EXPECTED and actual == st.NOSTATE:
        LOG.warning(
            "instance %s is %s but the hypervisor has no guest for it (it restarted): "
            "now STOPPED; start it to re-create the guest",
            uuid,
            vm,
        )
        await ctx.update(
            uuid, {"vm_state": st.STOPPED, "task_state": None, "power_state": st.NOSTATE}
        )
        return
    if task is not None:
        LOG.info("instance %s: resetting interrupted task %s", uuid, task)
        await ctx.update(uuid, {"task_state": None, "power_state": actual})


async def _state(ctx: Context, uuid: str) -> int:
    try:
        return (await asyncio.to_thread(ctx.driver.state, uuid)).power_state
    except GuestNotFound:
        return st.NOSTATE


async def sync_power_states(ctx: Context, busy: Callable[[str], bool]) -> int:
    """One pass of the power sync; returns the number of instances updated."""
    changed = 0
    for inst in await ctx.conductor.instances_for_host(ctx.host):
        uuid, vm = inst["uuid"], inst.get("vm_state")
        if inst.get("task_state") is not None or busy(uuid) or vm in NO_GUEST:
            continue
        if vm == st.BUILDING:
            continue
        actual = await _state(ctx, uuid)
        values: dict[str, Any] = {}
        if actual != inst.get("power_state"):
            values["power_state"] = actual
        if actual == st.NOSTATE:
            LOG.warning("instance %s (%s) has no guest on this hypervisor", uuid, vm)
        if vm == st.ACTIVE and actual in (st.SHUTDOWN, st.CRASHED):
            LOG.info("instance %s is ACTIVE but its guest is not running: now STOPPED", uuid)
            values["vm_state"] = st.STOPPED
        if not values:
            continue
        try:
            await ctx.update(uuid, values, [None])
        except sbbus.RemoteError as exc:
            if exc.exc_type not in ("UnexpectedTaskState", "InstanceNotFound"):
                raise
            continue  # an action started meanwhile; it reports its own state
        changed += 1
    return changed
