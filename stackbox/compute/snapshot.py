"""Snapshot and shelve workflows: copy an instance's root disk into an Image API image.

    snapshot_instance  image_pending_upload -> image_uploading -> (task None)
    shelve_instance    power off, snapshot + upload -> shelved (or offload at once)
    shelve_offload     destroy guest and files, host/node None, release_resources
                       -> shelved_offloaded
    unshelve_instance  boot from system_metadata["shelved_image_id"] -> active

Consistency: the root disk is copied with `qemu-img convert -U` (the running QEMU holds
the image lock) into a stand-alone qcow2 (the disk_format of the API's image record); a
running guest is PAUSED for the duration of the copy so no write lands half-way, and
unpaused afterwards (a crash-consistent copy, as Nova's cold snapshot is). The copy is
streamed to `PUT /v2/images/{id}/file`; when the copy or the upload fails the queued
image is deleted, so no empty image is left behind.

Not here: creating the image record (the API did, before casting), locking and faults.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackbox.compute import boot, disks
from stackbox.compute import states as st
from stackbox.compute.power import shutdown_timeout

if TYPE_CHECKING:
    from stackbox.compute.manager import Context

LOG = logging.getLogger(__name__)

SNAPSHOT_TASKS = [st.IMAGE_SNAPSHOT, st.IMAGE_SNAPSHOT_PENDING]
SHELVED_KEYS = ("shelved_at", "shelved_image_id", "shelved_host")


def snapshot_format(instance: dict[str, Any]) -> str:
    """The disk format of an instance's snapshot data: always qcow2, the disk_format the
    API gives the snapshot's image record."""
    return "qcow2"


def _copy_root(ctx: Context, instance: dict[str, Any], dest: Path) -> None:
    """Blocking: flatten the root disk into dest, pausing a running guest meanwhile."""
    uuid = instance["uuid"]
    src = ctx.instance_dir(uuid) / "disk"
    try:
        running = ctx.driver.state(uuid).power_state == st.RUNNING
    except Exception:
        running = False
    if running:
        ctx.driver.pause(uuid)
    try:
        disks.snapshot_disk(src, dest, in_use=True, out_format=snapshot_format(instance))
    finally:
        if running:
            ctx.driver.unpause(uuid)


async def snapshot_and_upload(
    ctx: Context,
    instance: dict[str, Any],
    image_id: str,
    uploading: tuple[str, list[str | None]] | None = None,
) -> None:
    """Copy the root disk and upload it as `image_id`'s data. `uploading` = (task state,
    expected states) to report between the copy and the upload. On failure the image
    is deleted and the error re-raised."""
    work = ctx.instances_path / "_snapshots"
    work.mkdir(parents=True, exist_ok=True)
    tmp = work / f"{image_id}.{snapshot_format(instance)}"
    tmp.unlink(missing_ok=True)
    project, user = instance["project_id"], instance["user_id"]
    try:
        await asyncio.to_thread(_copy_root, ctx, instance, tmp)
        if uploading:
            await ctx.update(instance["uuid"], {"task_state": uploading[0]}, uploading[1])
        await ctx.uploader.upload(image_id, tmp, project, user)
    except BaseException:
        await ctx.uploader.delete(image_id, project, user)
        raise
    finally:
        tmp.unlink(missing_ok=True)


async def snapshot_instance(
    ctx: Context,
    instance: dict[str, Any],
    image_id: str,
    started: list[str | None] | None = None,
) -> dict[str, Any]:
    """`started`: the task states the API left the instance in (a backup's is
    image_backup); default a snapshot's."""
    uuid = instance["uuid"]
    await ctx.update(uuid, {"task_state": st.IMAGE_PENDING_UPLOAD}, started or SNAPSHOT_TASKS)
    await snapshot_and_upload(
        ctx, instance, image_id, (st.IMAGE_UPLOADING, [st.IMAGE_PENDING_UPLOAD])
    )
    return {"task_state": None, "power_state": await boot.power_state(ctx, uuid)}


async def shelve_instance(
    ctx: Context, instance: dict[str, Any], image_id: str, offload: bool
) -> dict[str, Any] | None:
    uuid = instance["uuid"]
    await ctx.update(uuid, {"task_state": st.SHELVING_IMAGE_PENDING_UPLOAD}, [st.SHELVING])
    try:
        await asyncio.to_thread(ctx.driver.power_off, uuid, shutdown_timeout(ctx))
    except BaseException:
        await ctx.uploader.delete(image_id, instance["project_id"], instance["user_id"])
        raise
    await snapshot_and_upload(
        ctx,
        instance,
        image_id,
        (st.SHELVING_IMAGE_UPLOADING, [st.SHELVING_IMAGE_PENDING_UPLOAD]),
    )
    sysmeta = dict(instance.get("system_metadata") or {})
    sysmeta.update(shelved_at=boot.now_iso(), shelved_image_id=image_id, shelved_host=ctx.host)
    values: dict[str, Any] = {
        "vm_state": st.SHELVED,
        "task_state": st.SHELVING_OFFLOADING if offload else None,
        "power_state": await boot.power_state(ctx, uuid),
        "system_metadata": sysmeta,
    }
    if not offload:
        return values
    await ctx.update(uuid, values, [st.SHELVING_IMAGE_UPLOADING])
    await shelve_offload_instance(ctx, instance)
    return None


async def shelve_offload_instance(ctx: Context, instance: dict[str, Any]) -> None:
    """Remove the guest and its files from this host and give its resources back."""
    uuid = instance["uuid"]
    await asyncio.to_thread(boot.cleanup, ctx, uuid)
    values = {
        "vm_state": st.SHELVED_OFFLOADED,
        "task_state": None,
        "power_state": st.NOSTATE,
        "host": None,
        "node": None,
    }
    await ctx.update(uuid, values, [st.SHELVING_OFFLOADING])
    await ctx.conductor.release_resources(uuid)


def _guest_kept(ctx: Context, uuid: str) -> bool:
    try:
        ctx.driver.state(uuid)
    except Exception:
        return False
    return (ctx.instance_dir(uuid) / "disk").exists()


async def unshelve_instance(ctx: Context, instance: dict[str, Any]) -> dict[str, Any]:
    """A shelved guest still here is powered on; an offloaded one boots from its shelved
    image (which is deleted afterwards, as Nova does)."""
    uuid = instance["uuid"]
    sysmeta = dict(instance.get("system_metadata") or {})
    image_id = sysmeta.get("shelved_image_id")
    if await asyncio.to_thread(_guest_kept, ctx, uuid):
        await asyncio.to_thread(ctx.driver.power_on, uuid)
    else:
        if not image_id:
            raise ValueError("the instance has no shelved image to unshelve from")
        try:
            meta = {"disk_format": snapshot_format(instance)}
            await boot.prepare_disks(ctx, instance, image_id, image_meta=meta)
            if boot.wants_config_drive(ctx, instance):
                await asyncio.to_thread(boot.write_config_drive, ctx, instance)
            await boot.spawn(ctx, instance)
        except BaseException:
            await asyncio.to_thread(boot.cleanup, ctx, uuid)
            raise
        # The shelved base stays in the cache while the overlay uses it.
    if image_id:
        await ctx.uploader.delete(image_id, instance["project_id"], instance["user_id"])
    for key in SHELVED_KEYS:
        sysmeta.pop(key, None)
    return {
        "vm_state": st.ACTIVE,
        "task_state": None,
        "power_state": await boot.power_state(ctx, uuid),
        "system_metadata": sysmeta,
        "launched_at": boot.now_iso(),
    }
