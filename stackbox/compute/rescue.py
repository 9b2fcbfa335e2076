"""Rescue workflow, as Nova's libvirt driver does it: the guest (same name, same uuid)
boots from a rescue disk, with its own root disk attached second, and back.

    instances_path/<uuid>/disk.rescue         qcow2 overlay on the rescue image, of the
                                              image's own size (the instance's image by
                                              default, or the `rescue_image_ref` given)
                         /disk.config.rescue  a config drive with the rescue password
                                              (only for a server that has a config drive)
                         /unrescue.xml        the guest's own definition (the driver's)

    rescue_instance    power off (clean), make the rescue disks, let the driver save the
                       definition and boot vda=disk.rescue, vdb=disk [, vdc=config];
                       a rescue image with hw_rescue_device/hw_rescue_bus (stable
                       rescue, 2.87) keeps every disk and adds disk.rescue last on that
                       device and bus, with boot order 1 -> vm_state rescued
    unrescue_instance  the driver restores the saved definition and starts the guest;
                       the `*.rescue` files go -> vm_state active
    interrupted        a crash in either: the saved definition back (not started), the
                       rescue files gone, a fault, ERROR. The root disk is never written.

Not here: locking, events, faults of failures (manager.py), the XML (the driver).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackbox.compute import boot, disks, payload
from stackbox.compute import states as st
from stackbox.compute.power import shutdown_timeout
from stackbox.virt.driver import BootInfo, DiskInfo, GuestNotFound

if TYPE_CHECKING:
    from stackbox.compute.manager import Context

LOG = logging.getLogger(__name__)

RESCUE_DISK = "disk.rescue"
RESCUE_CONFIG = "disk.config.rescue"
INTERRUPTED = "Instance was being {} when the compute service restarted"
# Stable device rescue (2.87): the rescue image's hw_rescue_device / hw_rescue_bus.
STABLE_PROPS = ("hw_rescue_device", "hw_rescue_bus")
DEFAULT_BUS = {"disk": "virtio", "cdrom": "ide", "floppy": "fdc"}
BUS_PREFIX = {"virtio": "vd", "scsi": "sd", "usb": "sd", "sata": "sd", "ide": "hd", "fdc": "fd"}


class RescueError(Exception):
    """The rescue cannot be done (no image to boot, no saved definition)."""


def rescue_image(instance: dict[str, Any], given: dict[str, Any] | None) -> tuple[str, dict]:
    """The id and metadata of the image the rescue disk is made of."""
    if given:
        return str(given["id"]), given
    image_id = instance.get("image_ref")
    if not image_id:
        raise RescueError(f"instance {instance['uuid']} has no image to make a rescue disk of")
    return str(image_id), instance.get("image_meta") or {}


def remove_rescue_files(idir: Path) -> None:
    """Delete `disk.rescue`, `disk.config.rescue` (every `*.rescue`, as Nova)."""
    for path in idir.glob("*.rescue"):
        path.unlink(missing_ok=True)


def is_stable(meta: dict[str, Any]) -> bool:
    """Whether the rescue image asks for a stable device rescue (Nova's
    check_hw_rescue_props): every disk stays where it is, the rescue disk is added."""
    props = meta.get("properties") or {}
    return any(key in props for key in STABLE_PROPS)


def stable_rescue_disk(meta: dict[str, Any], disks: tuple[DiskInfo, ...], path: Path) -> DiskInfo:
    """The rescue disk of a stable device rescue: the device and bus the image names
    (a virtio disk by default, as Nova), on the next free target of that bus, booted
    first (boot order 1)."""
    props = meta.get("properties") or {}
    device = str(props.get("hw_rescue_device") or "disk")
    if device not in DEFAULT_BUS:
        raise RescueError(f"Requested rescue device '{device}' is not supported")
    bus = str(props.get("hw_rescue_bus") or DEFAULT_BUS[device])
    prefix = BUS_PREFIX.get(bus)
    if prefix is None:
        raise RescueError(f"Requested rescue bus '{bus}' is not supported by this host")
    used = {d.target for d in disks}
    target = next(
        name
        for name in (f"{prefix}{chr(c)}" for c in range(ord("a"), ord("z") + 1))
        if name not in used
    )
    return DiskInfo(
        target=target, path=path, bus=bus, device=device, readonly=device == "cdrom", boot_order=1
    )


def rescue_boot(base: BootInfo, idir: Path, meta: dict[str, Any]) -> BootInfo:
    """`base` (the guest's own disks, kernel, console...) made a rescue's. Legacy: the
    rescue disk first (what the guest boots), the root disk second, the rescue config
    drive. Stable (`is_stable`): every disk of `base`, then the rescue disk."""
    if is_stable(meta):
        extra = stable_rescue_disk(meta, base.disks, idir / RESCUE_DISK)
        return dataclasses.replace(base, disks=(*base.disks, extra))
    found = [(idir / RESCUE_DISK, "qcow2", False), (idir / "disk", "qcow2", False)]
    if (idir / RESCUE_CONFIG).exists():
        found.append((idir / RESCUE_CONFIG, "raw", True))
    infos = tuple(
        DiskInfo(target=f"vd{chr(ord('a') + i)}", path=path, format=fmt, readonly=ro)
        for i, (path, fmt, ro) in enumerate(found)
    )
    return dataclasses.replace(base, disks=infos)


async def _power_off(ctx: Context, instance: dict[str, Any]) -> None:
    """Clean shutdown; a guest the hypervisor lost is re-created from its files first
    (its definition is what unrescue restores)."""
    uuid = instance["uuid"]
    try:
        await asyncio.to_thread(ctx.driver.power_off, uuid, shutdown_timeout(ctx))
    except GuestNotFound:
        await boot.spawn(ctx, instance)
        await asyncio.to_thread(ctx.driver.power_off, uuid, 0)


async def _make_disks(
    ctx: Context, instance: dict[str, Any], image_id: str, meta: dict, password: str | None
) -> None:
    idir = ctx.instance_dir(instance["uuid"])
    base = await boot.fetch_image(ctx, image_id, meta)
    fmt = await asyncio.to_thread(boot.image_format, image_id, meta, base)
    await asyncio.to_thread(remove_rescue_files, idir)
    await asyncio.to_thread(disks.create_root_disk, base, idir / RESCUE_DISK, 0, fmt)
    if (idir / boot.CONFIG_DRIVE).exists() and not is_stable(meta):
        await asyncio.to_thread(
            boot.write_config_drive, ctx, instance, password, name=RESCUE_CONFIG
        )


async def rescue_instance(
    ctx: Context,
    instance: dict[str, Any],
    rescue_password: str | None,
    given_image: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Boot the guest from a rescue disk; returns the final instance values. On failure
    the guest's own definition is put back (not started) before the error propagates."""
    uuid = instance["uuid"]
    idir = ctx.instance_dir(uuid)
    image_id, meta = rescue_image(instance, given_image)
    await _power_off(ctx, instance)
    try:
        await _make_disks(ctx, instance, image_id, meta, rescue_password)
        kernel, ramdisk = await boot.kernel_files(ctx, instance)
        info = rescue_boot(boot.boot_info(ctx, instance, kernel, ramdisk), idir, meta)
        template = ctx.cfg.get("compute", "instance_name_template")
        spec = payload.instance_spec(instance, None, template, ctx.cloud)
        await asyncio.to_thread(ctx.driver.rescue, spec, info)
    except BaseException:
        try:
            await _restore(ctx, uuid)
        except Exception:  # the rescue's own error is the one to report
            LOG.exception("cannot put back the definition of guest %s", uuid)
        raise
    return {
        "vm_state": st.RESCUED,
        "task_state": None,
        "power_state": await boot.power_state(ctx, uuid),
        "launched_at": boot.now_iso(),
    }


async def unrescue_instance(ctx: Context, instance: dict[str, Any]) -> dict[str, Any]:
    """Boot the guest from its own disks again (the definition saved at rescue)."""
    uuid = instance["uuid"]
    idir = ctx.instance_dir(uuid)
    if not await asyncio.to_thread(ctx.driver.unrescue, uuid, idir):
        raise RescueError(f"instance {uuid} has no saved definition to unrescue to")
    await asyncio.to_thread(remove_rescue_files, idir)
    return {
        "vm_state": st.ACTIVE,
        "task_state": None,
        "power_state": await boot.power_state(ctx, uuid),
    }


async def _restore(ctx: Context, uuid: str) -> None:
    """The guest's own definition back (if one was saved), not started; no rescue file."""
    idir = ctx.instance_dir(uuid)
    await asyncio.to_thread(ctx.driver.unrescue, uuid, idir, start=False)
    await asyncio.to_thread(remove_rescue_files, idir)


async def interrupted(ctx: Context, inst: dict[str, Any]) -> None:
    """Start-up repair of a rescue or unrescue a crash cut short: ERROR, the guest
    defined on its own disks again, a fault saying why."""
    uuid = inst["uuid"]
    what = "rescued" if inst.get("task_state") == st.RESCUING else "unrescued"
    message = INTERRUPTED.format(what)
    await _restore(ctx, uuid)
    await ctx.conductor.instance_fault_create(uuid, 500, message, "", ctx.host)
    await ctx.update(
        uuid,
        {
            "vm_state": st.ERROR,
            "task_state": None,
            "power_state": await boot.power_state(ctx, uuid),
        },
    )
