"""Boot workflow of the compute host: from an instance payload to a running guest.

    instances_path/<uuid>/disk         qcow2 overlay on the cached image (_base/<sha1>)
                         /disk.local   ephemeral disk (flavor ephemeral_gb), if any
                         /disk.swap    swap disk (flavor swap MiB), if any
                         /disk.config  config drive (ISO 9660 "config-2"), if wanted
                         /console.log  the serial console

The image (and the kernel/ramdisk of a direct-kernel-boot image) come through the
host's `ImageCache`, so a second server from one image copies nothing; the image's data
must be its disk_format and safe (Nova's checks) before a disk is made on it. The config drive
is attached LAST, as a read-only raw virtio disk (the test guest's kernel has no AHCI;
it finds LABEL=config-2 on any block device).

The pieces (`prepare_disks`, `boot_info`, `write_config_drive`, `cleanup`) are reused by
rebuild, resize and unshelve. Not here: locking, action events, faults (manager.py), the
domain XML (the driver).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackbox.compute import disks, metadata, payload
from stackbox.compute import states as st
from stackbox.guest import configdrive
from stackbox.image import formats
from stackbox.virt.driver import BootInfo, DiskInfo, GuestNotFound

if TYPE_CHECKING:
    from stackbox.compute.manager import Context

LOG = logging.getLogger(__name__)

DEFAULT_CMDLINE = "root=/dev/vda console=tty0 console=ttyS0"
ROOT_DEVICE = "/dev/vda"
# File name in the instance dir -> disk format; the order is the guest's vda, vdb...
DISK_FILES = (("disk", "qcow2"), ("disk.local", "qcow2"), ("disk.swap", "qcow2"))
CONFIG_DRIVE = "disk.config"


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat()


class ImageUnacceptable(Exception):
    """The image's data is not its disk_format, or is unsafe to give QEMU (a backing or
    data file, extents elsewhere...): Nova's ImageUnacceptable, the build's fault."""


def image_format(image_id: str, meta: dict[str, Any], base: Path) -> str:
    """The format QEMU reads the image's cached base file as, once the data passed
    Nova's checks (`stackbox/image/formats.py`, run on every use: a few KiB read)."""
    try:
        return formats.check_bootable(base, meta.get("disk_format"))
    except formats.Unacceptable as exc:
        raise ImageUnacceptable(f"Image {image_id} is unacceptable: {exc}") from None


async def fetch_image(ctx: Context, image_id: str, meta: dict[str, Any] | None = None) -> Path:
    """The cached base file of an image, downloaded (once per host) if needed."""
    meta = meta or {}
    return await ctx.images.ensure(
        image_id,
        checksum=meta.get("checksum"),
        os_hash_algo=meta.get("os_hash_algo"),
        os_hash_value=meta.get("os_hash_value"),
        size=meta.get("size"),
    )


async def kernel_files(ctx: Context, instance: dict[str, Any]) -> tuple[Path | None, Path | None]:
    """Kernel and ramdisk of a direct-kernel-boot image (None, None otherwise)."""
    props = (instance.get("image_meta") or {}).get("properties") or {}
    kernel_id = instance.get("kernel_id") or props.get("kernel_id")
    ramdisk_id = instance.get("ramdisk_id") or props.get("ramdisk_id")
    kernel = await fetch_image(ctx, kernel_id) if kernel_id else None
    ramdisk = await fetch_image(ctx, ramdisk_id) if ramdisk_id and kernel else None
    return kernel, ramdisk


def _cmdline(instance: dict[str, Any]) -> str:
    props = (instance.get("image_meta") or {}).get("properties") or {}
    return str(props.get("os_command_line") or DEFAULT_CMDLINE)


async def prepare_disks(
    ctx: Context,
    instance: dict[str, Any],
    image_id: str,
    *,
    flavor: dict[str, Any] | None = None,
    image_meta: dict[str, Any] | None = None,
) -> None:
    """Create the root (from `image_id`), ephemeral and swap disks of the instance."""
    flavor = flavor or instance["flavor"]
    meta = image_meta if image_meta is not None else (instance.get("image_meta") or {})
    idir = ctx.instance_dir(instance["uuid"])
    idir.mkdir(parents=True, exist_ok=True)
    base = await fetch_image(ctx, image_id, meta)
    fmt = await asyncio.to_thread(image_format, image_id, meta, base)
    root_gb = int(flavor.get("root_gb") or 0)
    await asyncio.to_thread(disks.create_root_disk, base, idir / "disk", root_gb, fmt)
    if int(flavor.get("ephemeral_gb") or 0) > 0:
        await asyncio.to_thread(
            disks.create_ephemeral, idir / "disk.local", int(flavor["ephemeral_gb"])
        )
    if int(flavor.get("swap") or 0) > 0:
        await asyncio.to_thread(disks.create_swap, idir / "disk.swap", int(flavor["swap"]))


def wants_config_drive(ctx: Context, instance: dict[str, Any]) -> bool:
    value = instance.get("config_drive")
    given = value not in (None, "", False, "False", "false")
    props = (instance.get("image_meta") or {}).get("properties") or {}
    return (
        given
        or bool(ctx.cfg.get("compute", "force_config_drive"))
        or props.get("img_config_drive") == "mandatory"
    )


def write_config_drive(
    ctx: Context,
    instance: dict[str, Any],
    admin_password: str | None = None,
    *,
    name: str = CONFIG_DRIVE,
    injected_files: list[dict[str, str]] | None = None,
) -> Path:
    """Write `disk.config` (or `name`: a rescue's own drive) in the instance dir, with
    the personality files of a build or rebuild (blocking: run in a thread)."""
    path = ctx.instance_dir(instance["uuid"]) / name
    path.unlink(missing_ok=True)
    md = metadata.meta_data(instance, admin_password)
    content = metadata.add_files(md, injected_files)
    return configdrive.make_config_drive(
        path,
        md,
        user_data=metadata.user_data(instance),
        network_data=metadata.network_data(instance),
        content=content,
    )


def boot_info(
    ctx: Context, instance: dict[str, Any], kernel: Path | None, ramdisk: Path | None
) -> BootInfo:
    """The BootInfo of the disks present in the instance dir (vda, vdb... in DISK_FILES
    order, then the config drive)."""
    idir = ctx.instance_dir(instance["uuid"])
    found: list[tuple[Path, str, bool]] = [
        (idir / name, fmt, False) for name, fmt in DISK_FILES if (idir / name).exists()
    ]
    if (idir / CONFIG_DRIVE).exists():
        found.append((idir / CONFIG_DRIVE, "raw", True))
    infos = tuple(
        DiskInfo(target=f"vd{chr(ord('a') + i)}", path=path, format=fmt, readonly=ro)
        for i, (path, fmt, ro) in enumerate(found)
    )
    return BootInfo(
        instance_dir=idir,
        disks=infos,
        console_log=idir / "console.log",
        kernel=kernel,
        ramdisk=ramdisk,
        cmdline=_cmdline(instance) if kernel else None,
    )


async def spawn(
    ctx: Context,
    instance: dict[str, Any],
    *,
    flavor: dict[str, Any] | None = None,
) -> int:
    """Define and start the guest from the files in its dir; returns its power state."""
    kernel, ramdisk = await kernel_files(ctx, instance)
    boot = boot_info(ctx, instance, kernel, ramdisk)
    template = ctx.cfg.get("compute", "instance_name_template")
    spec = payload.instance_spec(instance, flavor, template, ctx.cloud)
    await asyncio.to_thread(ctx.driver.spawn, spec, boot)
    return await power_state(ctx, instance["uuid"])


async def power_state(ctx: Context, uuid: str) -> int:
    try:
        return (await asyncio.to_thread(ctx.driver.state, uuid)).power_state
    except GuestNotFound:
        return st.NOSTATE


def cleanup(ctx: Context, uuid: str, *, keep_dir: bool = False) -> None:
    """Remove the guest (if defined) and the instance dir (blocking)."""
    ctx.driver.destroy(uuid)
    if not keep_dir:
        shutil.rmtree(ctx.instance_dir(uuid), ignore_errors=True)


async def build(
    ctx: Context,
    instance: dict[str, Any],
    admin_password: str | None = None,
    injected_files: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Create everything and start the guest; returns the final instance values. On
    failure the guest and the instance dir are removed before the error propagates."""
    uuid = instance["uuid"]
    values: dict[str, Any] = {}
    try:
        if not instance.get("image_ref"):
            raise ValueError("booting from volume is not supported yet: the server has no image")
        await prepare_disks(ctx, instance, instance["image_ref"])
        if wants_config_drive(ctx, instance):
            await asyncio.to_thread(
                write_config_drive, ctx, instance, admin_password, injected_files=injected_files
            )
            values["config_drive"] = "True"
        power = await spawn(ctx, instance)
    except BaseException:
        await asyncio.to_thread(cleanup, ctx, uuid)
        raise
    values.update(
        vm_state=st.ACTIVE,
        task_state=None,
        power_state=power,
        launched_at=now_iso(),
        root_device_name=ROOT_DEVICE,
    )
    return values


async def rebuild(
    ctx: Context,
    instance: dict[str, Any],
    admin_password: str | None = None,
    injected_files: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Destroy the guest and its root disk, re-create them from the (new) image_ref in
    the payload, spawn. A stopped instance is stopped again afterwards (as Nova does)."""
    uuid = instance["uuid"]
    idir = ctx.instance_dir(uuid)
    await asyncio.to_thread(ctx.driver.destroy, uuid)
    await ctx.update(uuid, {"task_state": st.REBUILD_SPAWNING}, [st.REBUILDING])
    for name, _ in DISK_FILES:
        (idir / name).unlink(missing_ok=True)
    (idir / CONFIG_DRIVE).unlink(missing_ok=True)
    await prepare_disks(ctx, instance, instance["image_ref"])
    if wants_config_drive(ctx, instance):
        await asyncio.to_thread(
            write_config_drive, ctx, instance, admin_password, injected_files=injected_files
        )
    power = await spawn(ctx, instance)
    vm_state = st.ACTIVE
    if instance.get("vm_state") == st.STOPPED:
        timeout = float(ctx.cfg.get("compute", "shutdown_timeout"))
        await asyncio.to_thread(ctx.driver.power_off, uuid, timeout)
        power, vm_state = await power_state(ctx, uuid), st.STOPPED
    return {
        "vm_state": vm_state,
        "task_state": None,
        "power_state": power,
        "launched_at": now_iso(),
        "root_device_name": ROOT_DEVICE,
    }
