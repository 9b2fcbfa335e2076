"""Instance disk files: real qcow2/raw files made with qemu-img, checked with qemu-img."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from stackbox import privileged
from stackbox.compute import disks

pytestmark = pytest.mark.skipif(
    not privileged.available("qemu-img"), reason="needs qemu-img (qemu-utils)"
)
GiB = 1024**3


def _image(path: Path, size: str = "64M", fmt: str = "qcow2") -> Path:
    privileged.run(["qemu-img", "create", "-q", "-f", fmt, "--", str(path), size])
    return path


def _write(path: Path, fmt: str, data: bytes, offset: int = 0) -> None:
    """Write guest-visible bytes into an image (qemu-io is not allow-listed: go through a
    raw file and convert, which is what the test needs: content that must survive)."""
    raw = path.with_suffix(".raw")
    privileged.run(["qemu-img", "convert", "-f", fmt, "-O", "raw", str(path), str(raw)])
    with open(raw, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)
    path.unlink()
    privileged.run(["qemu-img", "convert", "-f", "raw", "-O", fmt, str(raw), str(path)])
    raw.unlink()


def _read(path: Path, fmt: str, size: int, offset: int = 0) -> bytes:
    raw = path.with_name(path.name + ".read.raw")
    privileged.run(["qemu-img", "convert", "-U", "-f", fmt, "-O", "raw", str(path), str(raw)])
    try:
        with open(raw, "rb") as fh:
            fh.seek(offset)
            return fh.read(size)
    finally:
        raw.unlink()


def test_root_disk_is_an_overlay_of_the_requested_size(tmp_path: Path) -> None:
    base = _image(tmp_path / "base", "64M")
    _write(base, "qcow2", b"stackbox-image", offset=4096)
    dest = tmp_path / "inst" / "disk"
    disks.create_root_disk(base, dest, 2, "qcow2")
    info = disks.disk_info(dest)
    assert info.format == "qcow2" and info.virtual_size == 2 * GiB
    assert info.backing_file == str(base.resolve()) and info.backing_format == "qcow2"
    assert info.actual_size < 1024 * 1024  # nothing copied
    assert _read(dest, "qcow2", 14, offset=4096) == b"stackbox-image"


def test_root_disk_size_zero_keeps_the_image_size_and_raw_bases_work(tmp_path: Path) -> None:
    base = _image(tmp_path / "base.raw", "96M", fmt="raw")
    dest = tmp_path / "inst" / "disk"
    disks.create_root_disk(base, dest, 0, "raw")
    info = disks.disk_info(dest)
    assert info.virtual_size == 96 * 1024**2 and info.backing_format == "raw"


def test_root_disk_smaller_than_the_image_is_refused(tmp_path: Path) -> None:
    base = _image(tmp_path / "base", "2G")
    dest = tmp_path / "inst" / "disk"
    with pytest.raises(disks.FlavorDiskSmallerThanImage, match="too small"):
        disks.create_root_disk(base, dest, 1, "qcow2")
    assert not dest.exists()


def test_root_disk_never_overwrites_and_checks_the_base(tmp_path: Path) -> None:
    base = _image(tmp_path / "base")
    dest = tmp_path / "disk"
    disks.create_root_disk(base, dest, 1, "qcow2")
    with pytest.raises(disks.DiskError, match="already exists"):
        disks.create_root_disk(base, dest, 1, "qcow2")
    with pytest.raises(disks.DiskError, match="cannot read disk"):
        disks.create_root_disk(tmp_path / "missing", tmp_path / "d2", 1, "qcow2")
    with pytest.raises(disks.DiskError, match="unsupported image format"):
        disks.create_root_disk(base, tmp_path / "d3", 1, "iso9660")


def test_overlay_on_a_1gib_base_takes_well_under_half_a_second(tmp_path: Path) -> None:
    base = tmp_path / "big.raw"
    with open(base, "wb") as fh:  # sparse 1 GiB raw image, as a cached image can be
        fh.truncate(GiB)
    start = time.monotonic()
    disks.create_root_disk(base, tmp_path / "inst" / "disk", 20, "raw")
    elapsed = time.monotonic() - start
    assert elapsed < 0.5, f"overlay creation took {elapsed:.3f} s"
    assert disks.disk_info(tmp_path / "inst" / "disk").actual_size < 1024 * 1024


def test_ephemeral_disk_is_an_ext4_overlay_on_a_shared_base(tmp_path: Path) -> None:
    inst = tmp_path / "instances"
    first = disks.create_ephemeral(inst / "a" / "disk.local", 1)
    assert first == (inst / "_base" / "ephemeral_1_default").resolve()
    made = os.stat(first)
    os.utime(first, (made.st_atime - 100, made.st_mtime - 100))
    second = disks.create_ephemeral(inst / "b" / "disk.local", 1)
    again = os.stat(first)
    assert second == first and again.st_ino == made.st_ino  # made once
    assert again.st_mtime >= made.st_mtime  # reuse counts as use (image-cache eviction)
    info = disks.disk_info(inst / "b" / "disk.local")
    assert info.format == "qcow2" and info.virtual_size == GiB
    assert info.backing_file == str(first) and info.backing_format == "raw"
    # ext4 superblock magic 0xEF53 at byte 1024 + 56, volume name at 1024 + 120
    sb = _read(inst / "b" / "disk.local", "qcow2", 140, offset=1024)
    assert sb[56:58] == b"\x53\xef" and sb[120:130] == b"ephemeral0"
    with pytest.raises(disks.DiskError, match="size > 0"):
        disks.create_ephemeral(inst / "c" / "disk.local", 0)


def test_swap_disk_carries_a_swap_signature(tmp_path: Path) -> None:
    inst = tmp_path / "instances"
    base = disks.create_swap(inst / "a" / "disk.swap", 64)
    assert base.name == "swap_64" and disks.disk_info(base).virtual_size == 64 * 1024**2
    info = disks.disk_info(inst / "a" / "disk.swap")
    assert info.virtual_size == 64 * 1024**2 and info.backing_file == str(base)
    page = _read(inst / "a" / "disk.swap", "qcow2", 4096)
    assert page[-10:] == b"SWAPSPACE2"


def test_resize_grows_only(tmp_path: Path) -> None:
    base = _image(tmp_path / "base")
    dest = tmp_path / "disk"
    disks.create_root_disk(base, dest, 1, "qcow2")
    disks.resize_disk(dest, 3)
    assert disks.disk_info(dest).virtual_size == 3 * GiB
    disks.resize_disk(dest, 3)  # same size: nothing to do
    with pytest.raises(disks.DiskError, match="cannot shrink"):
        disks.resize_disk(dest, 2)
    assert disks.disk_info(dest).virtual_size == 3 * GiB


def test_snapshot_flattens_the_backing_chain(tmp_path: Path) -> None:
    base = _image(tmp_path / "base")
    _write(base, "qcow2", b"from-the-image", offset=8192)
    disk = tmp_path / "inst" / "disk"
    disks.create_root_disk(base, disk, 1, "qcow2")
    snap = tmp_path / "snap.qcow2"
    disks.snapshot_disk(disk, snap)
    info = disks.disk_info(snap)
    assert info.format == "qcow2" and info.backing_file is None
    assert info.virtual_size == GiB
    base.unlink()  # the snapshot stands alone
    assert _read(snap, "qcow2", 14, offset=8192) == b"from-the-image"
    assert not (tmp_path / "snap.qcow2.part").exists()
    with pytest.raises(disks.DiskError):
        disks.snapshot_disk(tmp_path / "missing", tmp_path / "s2")


def test_concurrent_boots_share_one_base_and_leave_no_lock(tmp_path: Path) -> None:
    inst = tmp_path / "instances"
    with ThreadPoolExecutor(4) as pool:
        bases = list(
            pool.map(lambda i: disks.create_ephemeral(inst / f"i{i}" / "disk.local", 2), range(4))
        )
    assert len(set(bases)) == 1
    assert sorted(p.name for p in (inst / "_base").iterdir()) == ["ephemeral_2_default"]
    for i in range(4):
        assert disks.disk_info(inst / f"i{i}" / "disk.local").backing_file == str(bases[0])


def test_a_raw_image_is_read_as_raw_even_when_it_looks_like_qcow2(tmp_path: Path) -> None:
    """A user's raw image holding a qcow2 header (a 4 GiB one here) must not be probed:
    its size is the file's, and the overlay's backing format stays raw."""
    inner = _image(tmp_path / "inner.qcow2", "4G")
    disguised = tmp_path / "disguised.raw"
    disguised.write_bytes(inner.read_bytes().ljust(1024 * 1024, b"\0"))
    dest = tmp_path / "disk"
    disks.create_root_disk(disguised, dest, 1, "raw")
    info = disks.disk_info(dest)
    assert info.virtual_size == GiB and info.backing_format == "raw"
