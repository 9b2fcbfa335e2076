"""Resize workflow -- SAME HOST ONLY: the guest stays on this compute host; there is no
disk migration between hosts (the conductor claims the new flavor on the same node).

    resize_instance  power off, back up each disk file to `<name>.resize-orig`, grow the
                     root disk (shrinking is an error), add or grow the ephemeral disk,
                     re-make swap, re-spawn with the new flavor -> vm_state resized
    confirm_resize   delete the backups, conductor.resize_claims_done(confirmed=True)
    revert_resize    destroy, restore the backups, spawn with the old flavor,
                     conductor.resize_claims_done(confirmed=False)

Each reports its steps of the migration record through the conductor (migrating,
post-migrating once the disks are backed up, finished; reverted; confirmed is the
conductor's), and `error` when it fails (compute/migrations.py has the statuses).

The vm_state before the resize is kept in system_metadata["old_vm_state"] so a stopped
server comes back stopped. Not here: claims (conductor/scheduler), locking and faults
(manager.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from stackbox.compute import boot, disks
from stackbox.compute import states as st
from stackbox.compute.power import shutdown_timeout

if TYPE_CHECKING:
    from stackbox.compute.manager import Context

T = TypeVar("T")
LOG = logging.getLogger(__name__)
BACKUP_SUFFIX = ".resize-orig"
RESIZE_TASKS = [st.RESIZE_PREP, st.RESIZE_MIGRATING, st.RESIZE_MIGRATED, st.RESIZE_FINISH]


class ResizeError(Exception):
    """The resize cannot be done as asked (e.g. it would shrink a disk)."""


def _disk_files(idir: Path) -> list[Path]:
    return [idir / name for name, _ in boot.DISK_FILES]


def _backup(idir: Path) -> None:
    for path in _disk_files(idir):
        backup = path.with_name(path.name + BACKUP_SUFFIX)
        if path.exists() and not backup.exists():
            _copy(path, backup)


def _copy(src: Path, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".part")
    shutil.copy2(src, tmp)
    os.replace(tmp, dest)


def _restore(idir: Path) -> None:
    """Put the backups back; disk files that had none (added by the resize) go away."""
    if not any(p.with_name(p.name + BACKUP_SUFFIX).exists() for p in _disk_files(idir)):
        return
    for path in _disk_files(idir):
        backup = path.with_name(path.name + BACKUP_SUFFIX)
        if backup.exists():
            os.replace(backup, path)
        else:
            path.unlink(missing_ok=True)


def _drop_backups(idir: Path) -> None:
    for path in _disk_files(idir):
        path.with_name(path.name + BACKUP_SUFFIX).unlink(missing_ok=True)


def _resize_disks(idir: Path, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Grow the files to the new flavor (blocking)."""
    old_root, new_root = int(old.get("root_gb") or 0), int(new.get("root_gb") or 0)
    if new_root and new_root < old_root:
        raise ResizeError(f"Resize would shrink the root disk from {old_root} to {new_root} GiB")
    if new_root:
        disks.resize_disk(idir / "disk", new_root)
    old_eph, new_eph = int(old.get("ephemeral_gb") or 0), int(new.get("ephemeral_gb") or 0)
    if new_eph < old_eph:
        raise ResizeError(f"Resize would shrink the ephemeral disk from {old_eph} to {new_eph} GiB")
    local = idir / "disk.local"
    if new_eph and local.exists():
        disks.resize_disk(local, new_eph)
    elif new_eph:
        disks.create_ephemeral(local, new_eph)
    swap = idir / "disk.swap"
    if int(old.get("swap") or 0) != int(new.get("swap") or 0):
        swap.unlink(missing_ok=True)
        if int(new.get("swap") or 0) > 0:
            disks.create_swap(swap, int(new["swap"]))


async def _respawn(
    ctx: Context, instance: dict[str, Any], flavor: dict[str, Any], stopped: bool
) -> int:
    await boot.spawn(ctx, instance, flavor=flavor)
    if stopped:
        await asyncio.to_thread(ctx.driver.power_off, instance["uuid"], shutdown_timeout(ctx))
    return await boot.power_state(ctx, instance["uuid"])


async def _erroring(ctx: Context, uuid: str, work: Awaitable[T]) -> T:
    """`work`, its migration set to error if it fails (Nova's errors_out_migration)."""
    try:
        return await work
    except BaseException:
        try:
            await ctx.conductor.migration_status(uuid, "error")
        except Exception:
            LOG.exception("cannot set the migration of instance %s to error", uuid)
        raise


async def resize_instance(
    ctx: Context, instance: dict[str, Any], new_flavor: dict[str, Any]
) -> dict[str, Any]:
    return await _erroring(ctx, instance["uuid"], _resize(ctx, instance, new_flavor))


async def _resize(
    ctx: Context, instance: dict[str, Any], new_flavor: dict[str, Any]
) -> dict[str, Any]:
    uuid, old_flavor = instance["uuid"], instance["flavor"]
    idir = ctx.instance_dir(uuid)
    was_stopped = instance.get("vm_state") == st.STOPPED
    await ctx.update(uuid, {"task_state": st.RESIZE_MIGRATING}, RESIZE_TASKS)
    await ctx.conductor.migration_status(uuid, "migrating")
    await asyncio.to_thread(ctx.driver.power_off, uuid, shutdown_timeout(ctx))
    await asyncio.to_thread(_backup, idir)
    await ctx.update(uuid, {"task_state": st.RESIZE_MIGRATED}, [st.RESIZE_MIGRATING])
    await ctx.conductor.migration_status(uuid, "post-migrating")
    try:
        await asyncio.to_thread(_resize_disks, idir, old_flavor, new_flavor)
        await ctx.update(uuid, {"task_state": st.RESIZE_FINISH}, [st.RESIZE_MIGRATED])
        await asyncio.to_thread(ctx.driver.destroy, uuid)
        power = await _respawn(ctx, instance, new_flavor, was_stopped)
    except BaseException:
        # Leave the old disks in place, so a hard reboot brings the old server back.
        await asyncio.to_thread(ctx.driver.destroy, uuid)
        await asyncio.to_thread(_restore, idir)
        raise
    sysmeta = dict(instance.get("system_metadata") or {})
    sysmeta["old_vm_state"] = instance.get("vm_state") or st.ACTIVE
    await ctx.conductor.migration_status(uuid, "finished")
    return {
        "vm_state": st.RESIZED,
        "task_state": None,
        "power_state": power,
        "flavor": new_flavor,
        "old_flavor": old_flavor,
        "new_flavor": None,
        "system_metadata": sysmeta,
    }


def _after_resize(instance: dict[str, Any], power: int) -> dict[str, Any]:
    sysmeta = dict(instance.get("system_metadata") or {})
    sysmeta.pop("old_vm_state", None)
    return {
        "vm_state": st.ACTIVE if power == st.RUNNING else st.STOPPED,
        "task_state": None,
        "power_state": power,
        "old_flavor": None,
        "new_flavor": None,
        "system_metadata": sysmeta,
    }


async def confirm_resize(ctx: Context, instance: dict[str, Any]) -> None:
    await _erroring(ctx, instance["uuid"], _confirm(ctx, instance))


async def _confirm(ctx: Context, instance: dict[str, Any]) -> None:
    uuid = instance["uuid"]
    await asyncio.to_thread(_drop_backups, ctx.instance_dir(uuid))
    power = await boot.power_state(ctx, uuid)
    # The source side is freed, the migration confirmed and the new flavor stored in
    # the request spec before the server shows ACTIVE: whoever sees ACTIVE sees it all.
    await ctx.conductor.resize_claims_done(uuid, True)
    await ctx.update(uuid, _after_resize(instance, power))


async def revert_resize(ctx: Context, instance: dict[str, Any]) -> None:
    await _erroring(ctx, instance["uuid"], _revert(ctx, instance))


async def _revert(ctx: Context, instance: dict[str, Any]) -> None:
    uuid = instance["uuid"]
    old_flavor = instance.get("old_flavor") or instance["flavor"]
    stopped = (instance.get("system_metadata") or {}).get("old_vm_state") == st.STOPPED
    await asyncio.to_thread(ctx.driver.destroy, uuid)
    await asyncio.to_thread(_restore, ctx.instance_dir(uuid))
    # Claims first: the guest must come back on the old flavor's pinned CPUs, which
    # the conductor gives back to the instance here (the new ones are freed).
    current = await ctx.conductor.resize_claims_done(uuid, False)
    if current:
        instance = {**instance, "numa_topology": current.get("numa_topology") or {}}
    power = await _respawn(ctx, instance, old_flavor, stopped)
    values = _after_resize(instance, power)
    values["flavor"] = old_flavor
    await ctx.update(uuid, values, [st.RESIZE_REVERTING])
    await ctx.conductor.migration_status(uuid, "reverted")
