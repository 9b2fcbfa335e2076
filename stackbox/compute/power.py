"""Power workflows: reboot (soft/hard), stop, start, pause/unpause, suspend/resume, and
the power side of a deferred delete: soft_delete (off at once, SOFT_DELETED) and restore
(on again, ACTIVE).

Each function drives the hypervisor and returns the instance values to report, with the
vm_state Nova ends in and the power_state the hypervisor reports afterwards. Errors
propagate to the manager, which decides between ERROR (reboot) and the previous
vm_state (the others), as Nova does.

Not here: locking, events, faults (manager.py); which states allow which action (the
API checks `states.ALLOWED` before casting).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from stackbox.compute import boot
from stackbox.compute import states as st
from stackbox.virt.driver import GuestNotFound

if TYPE_CHECKING:
    from stackbox.compute.manager import Context


async def _final(ctx: Context, uuid: str, vm_state: str) -> dict[str, Any]:
    return {
        "vm_state": vm_state,
        "task_state": None,
        "power_state": await boot.power_state(ctx, uuid),
    }


async def reboot(ctx: Context, instance: dict[str, Any], reboot_type: str) -> dict[str, Any]:
    """SOFT asks the guest (ACPI) and falls back to a reset; HARD resets power. A hard
    reboot of a guest the hypervisor lost re-creates it from the instance's files."""
    uuid = instance["uuid"]
    hard = str(reboot_type).upper() == "HARD"
    try:
        await asyncio.to_thread(ctx.driver.reboot, uuid, hard)
    except GuestNotFound:
        if not hard:
            raise
        await boot.spawn(ctx, instance)
    return await _final(ctx, uuid, st.ACTIVE)


def shutdown_timeout(ctx: Context) -> float:
    return float(ctx.cfg.get("compute", "shutdown_timeout"))


async def stop(ctx: Context, instance: dict[str, Any]) -> dict[str, Any]:
    uuid = instance["uuid"]
    await asyncio.to_thread(ctx.driver.power_off, uuid, shutdown_timeout(ctx))
    return await _final(ctx, uuid, st.STOPPED)


async def start(ctx: Context, instance: dict[str, Any]) -> dict[str, Any]:
    """Power on; a guest the hypervisor lost (see recovery) is re-created from its files,
    as Nova's libvirt power_on does (a hard reboot)."""
    uuid = instance["uuid"]
    try:
        await asyncio.to_thread(ctx.driver.power_on, uuid)
    except GuestNotFound:
        await boot.spawn(ctx, instance)
    return await _final(ctx, uuid, st.ACTIVE)


async def pause(ctx: Context, instance: dict[str, Any]) -> dict[str, Any]:
    uuid = instance["uuid"]
    await asyncio.to_thread(ctx.driver.pause, uuid)
    return await _final(ctx, uuid, st.PAUSED)


async def unpause(ctx: Context, instance: dict[str, Any]) -> dict[str, Any]:
    uuid = instance["uuid"]
    await asyncio.to_thread(ctx.driver.unpause, uuid)
    return await _final(ctx, uuid, st.ACTIVE)


async def suspend(ctx: Context, instance: dict[str, Any]) -> dict[str, Any]:
    uuid = instance["uuid"]
    await asyncio.to_thread(ctx.driver.suspend, uuid)
    return await _final(ctx, uuid, st.SUSPENDED)


async def resume(ctx: Context, instance: dict[str, Any]) -> dict[str, Any]:
    uuid = instance["uuid"]
    await asyncio.to_thread(ctx.driver.resume, uuid)
    return await _final(ctx, uuid, st.ACTIVE)


async def soft_delete(ctx: Context, instance: dict[str, Any]) -> dict[str, Any]:
    """Power off without waiting for the guest (Nova's soft delete is not a clean
    shutdown); the guest and its files stay until the instance is reclaimed. A guest
    the hypervisor lost is already off."""
    uuid = instance["uuid"]
    with contextlib.suppress(GuestNotFound):
        await asyncio.to_thread(ctx.driver.power_off, uuid, 0.0)
    return await _final(ctx, uuid, st.SOFT_DELETED)


async def restore(ctx: Context, instance: dict[str, Any]) -> dict[str, Any]:
    """Power a soft-deleted guest on again (re-created from its files if lost)."""
    return await start(ctx, instance)
