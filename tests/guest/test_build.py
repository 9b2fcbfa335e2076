"""The test guest build: three artifacts, a SYSLINUX FAT disk, a busybox initramfs with
/init and the modules in dependency order, an idempotent rebuild."""

from __future__ import annotations

import hashlib
import json
import re
import stat
import time
from pathlib import Path

import pytest

from stackbox import privileged
from stackbox.guest import initramfs
from stackbox.guest.build import GuestArtifacts, build_test_guest, default_cache_dir

pytestmark = pytest.mark.guest_build


def test_cpio_round_trip() -> None:
    cpio = initramfs.Cpio()
    cpio.dir("etc")
    cpio.file("etc/x", b"abc", 0o600)
    cpio.symlink("bin/sh", "busybox")
    cpio.chardev("dev/console", 5, 1)
    entries = initramfs.read_cpio(cpio.finish())
    assert entries["etc/x"] == (stat.S_IFREG | 0o600, b"abc")
    assert entries["bin/sh"] == (stat.S_IFLNK | 0o777, b"busybox")
    assert stat.S_ISCHR(entries["dev/console"][0]) and stat.S_ISDIR(entries["etc"][0])


def test_artifacts_and_manifest(guest: GuestArtifacts) -> None:
    info = guest.info()
    assert re.fullmatch(r"\d+\.\d+\.\d+-\d+-cloud-amd64", guest.kernel_version)
    assert info["kernel_version"] == guest.kernel_version
    for key, path in guest.files().items():
        entry = info["files"][key]
        assert path.stat().st_size == entry["size"] > 0
        assert hashlib.sha512(path.read_bytes()).hexdigest() == entry["sha512"]
    assert info["inputs"]["kernel_package"].startswith(f"linux-image-{guest.kernel_version}=")
    assert info["inputs"]["busybox_package"].startswith("busybox-static=")
    sizes = {k: f"{p.stat().st_size / 2**20:.1f} MiB" for k, p in guest.files().items()}
    print(f"\n[guest] kernel {guest.kernel_version}; sizes {sizes}")


def test_disk_is_qcow2_with_syslinux_kernel_and_initrd(
    guest: GuestArtifacts, tmp_path: Path
) -> None:
    info = privileged.qemu_img_info(guest.disk)
    assert info["format"] == "qcow2"
    raw = tmp_path / "disk.raw"
    privileged.qemu_img_convert(guest.disk, raw, src_format="qcow2", out_format="raw")
    boot_sector = raw.read_bytes()[:512]
    assert boot_sector[510:] == b"\x55\xaa" and b"SYSLINUX" in boot_sector
    names = {n.lower() for n in privileged.mdir(raw)}
    assert {"ldlinux.sys", "ldlinux.c32", "syslinux.cfg", "vmlinuz", "initrd.img"} <= names
    for name, artifact in (("vmlinuz", guest.kernel), ("initrd.img", guest.ramdisk)):
        privileged.mcopy_out(raw, name, tmp_path / name)
        assert (tmp_path / name).read_bytes() == artifact.read_bytes()
    privileged.mcopy_out(raw, "syslinux.cfg", tmp_path / "syslinux.cfg")
    cfg = (tmp_path / "syslinux.cfg").read_text()
    assert "LINUX /vmlinuz" in cfg and "INITRD /initrd.img" in cfg and "console=ttyS0" in cfg


def test_initramfs_has_init_busybox_and_modules_in_order(guest: GuestArtifacts) -> None:
    entries = initramfs.read_cpio(guest.ramdisk.read_bytes())
    mode, init = entries["init"]
    assert stat.S_ISREG(mode) and mode & 0o111 and init.startswith(b"#!/bin/sh")
    assert b"stackbox-guest: ready instance=" in init
    assert stat.S_ISREG(entries["bin/busybox"][0])
    for applet in initramfs.APPLETS:
        assert entries[f"bin/{applet}"] == (stat.S_IFLNK | 0o777, b"busybox")
    assert stat.S_ISCHR(entries["dev/console"][0])
    assert entries["etc/kernel-version"][1].decode().strip() == guest.kernel_version
    order = entries["etc/modules"][1].decode().split()
    assert order == guest.info()["modules"]
    for name in ("virtio_pci", "virtio_net", "virtio_blk", "isofs", "sr_mod", "button"):
        assert name in order
    for i, name in enumerate(order):
        ko = entries[f"lib/modules/{name}.ko"][1]
        deps = [d for d in initramfs.modinfo(ko).get("depends", "").split(",") if d]
        assert all(d.replace("-", "_") in order[:i] for d in deps), (name, deps)
    assert order.index("virtio_ring") < order.index("virtio_pci") < order.index("virtio_net")


def test_second_build_is_a_no_op(guest: GuestArtifacts) -> None:
    before = {k: p.stat().st_mtime_ns for k, p in guest.files().items()}
    start = time.monotonic()
    again = build_test_guest(guest.disk.parent, default_cache_dir())
    took = time.monotonic() - start
    assert not again.rebuilt and again.files() == guest.files()
    assert {k: p.stat().st_mtime_ns for k, p in again.files().items()} == before
    assert took < 15, f"an up-to-date build took {took:.1f} s"
    print(f"\n[guest] up-to-date check took {took:.2f} s")
    assert json.loads(guest.manifest.read_text())["inputs"]["format"] >= 1


def test_other_architectures_get_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from stackbox.guest import debs

    monkeypatch.setattr(debs.platform, "machine", lambda: "aarch64")
    with pytest.raises(debs.GuestBuildError, match="x86_64 guests only; this host is aarch64"):
        build_test_guest(Path("/nonexistent"))
