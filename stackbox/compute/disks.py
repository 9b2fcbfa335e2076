"""An instance's disk files on the compute host: the root disk as a qcow2 overlay on the
cached image, ephemeral and swap disks as overlays on shared, pre-formatted raw bases in
`instances/_base/` (Nova's `ephemeral_<N>_default` / `swap_<N>` scheme), growing a disk,
flattening a disk into a stand-alone image (snapshots), and reading a file's facts.

File operations only, every command through `stackbox.privileged`. Not here: the
database, libvirt, downloading images (`imagecache.py`), deciding which disks an instance
gets (the compute manager's boot workflow).
"""

from __future__ import annotations

import fcntl
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackbox import privileged

GiB = 1024**3
MiB = 1024**2
EPHEMERAL_LABEL = "ephemeral0"
# image formats QEMU can use as the backing file of a qcow2 overlay
BACKING_FORMATS = frozenset({"qcow2", "raw", "vmdk", "vdi", "vhdx", "vpc", "qed"})


class DiskError(RuntimeError):
    """A disk file cannot be made as asked; the message says why (fit for a fault)."""


class FlavorDiskSmallerThanImage(DiskError):
    """The flavor's root disk is smaller than the image's virtual size."""


@dataclass(frozen=True)
class DiskFileInfo:
    """What `qemu-img info` says about one file."""

    path: Path
    format: str
    virtual_size: int  # bytes the guest sees
    actual_size: int  # bytes used on the host
    backing_file: str | None = None
    backing_format: str | None = None


def disk_info(path: Path, fmt: str | None = None) -> DiskFileInfo:
    """Facts of a disk file; works on the disk of a running guest too (`--force-share`).
    fmt: the format the file is known to have (else qemu-img probes it)."""
    try:
        info = privileged.qemu_img_info_shared(path, fmt)
    except privileged.CommandError as exc:
        raise DiskError(f"cannot read disk {path}: {exc.stderr.strip()[:300]}") from exc
    return DiskFileInfo(
        path=Path(path),
        format=str(info["format"]),
        virtual_size=int(info["virtual-size"]),
        actual_size=int(info.get("actual-size") or 0),
        backing_file=info.get("full-backing-filename") or info.get("backing-filename"),
        backing_format=info.get("backing-filename-format"),
    )


def _run(what: str, fn: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    try:
        fn(*args, **kwargs)
    except privileged.CommandError as exc:
        raise DiskError(f"{what}: {exc.stderr.strip()[:300] or exc}") from exc


def create_root_disk(base: Path, dest: Path, size_gb: int, base_format: str = "qcow2") -> None:
    """Create `dest`, a qcow2 overlay whose backing file is `base` (format base_format), of
    size_gb GiB (0: the image's own virtual size). No data is copied.

    Raises FlavorDiskSmallerThanImage when the image is bigger than size_gb GiB."""
    base = Path(base).resolve()
    if base_format not in BACKING_FORMATS:
        raise DiskError(f"unsupported image format for a root disk: {base_format!r}")
    image_size = disk_info(base, base_format).virtual_size
    size: int | None = None
    if size_gb > 0:
        size = size_gb * GiB
        if image_size > size:
            raise FlavorDiskSmallerThanImage(
                f"Flavor's disk is too small for requested image. Flavor disk is {size} "
                f"bytes, image is {image_size} bytes."
            )
    _prepare_dest(dest)
    _run(
        f"cannot create root disk {dest}",
        privileged.qemu_img_create,
        dest,
        "qcow2",
        size,
        backing_file=base,
        backing_format=base_format,
    )


def create_ephemeral(dest: Path, size_gb: int, base_dir: Path | None = None) -> Path:
    """Create `dest`, a qcow2 overlay on `_base/ephemeral_<N>_default`: a raw file of N GiB
    formatted ext4 (label "ephemeral0"), made once per size and shared. Returns the base.

    base_dir defaults to `<instances_path>/_base`, i.e. dest's grandparent + `_base`."""
    if size_gb <= 0:
        raise DiskError(f"an ephemeral disk needs a size > 0 GiB, not {size_gb}")
    base_dir = Path(base_dir or Path(dest).resolve().parent.parent / "_base").resolve()
    base = base_dir / f"ephemeral_{size_gb}_default"
    _overlay_on_base(dest, base, size_gb * GiB, lambda p: privileged.mkfs_ext4(p, EPHEMERAL_LABEL))
    return base


def create_swap(dest: Path, size_mb: int, base_dir: Path | None = None) -> Path:
    """Create `dest`, a qcow2 overlay on `_base/swap_<N>` (N MiB, raw, with a swap
    signature), made once per size and shared. Returns the base."""
    if size_mb <= 0:
        raise DiskError(f"a swap disk needs a size > 0 MiB, not {size_mb}")
    base_dir = Path(base_dir or Path(dest).resolve().parent.parent / "_base").resolve()
    base = base_dir / f"swap_{size_mb}"
    _overlay_on_base(dest, base, size_mb * MiB, privileged.mkswap)
    return base


def resize_disk(path: Path, size_gb: int) -> None:
    """Grow the disk file to size_gb GiB; same size: nothing to do; smaller: DiskError
    (shrinking would lose the guest's data)."""
    info = disk_info(path)
    size = size_gb * GiB
    if size < info.virtual_size:
        raise DiskError(f"cannot shrink disk {path} from {info.virtual_size} to {size} bytes")
    if size == info.virtual_size:
        return
    _run(f"cannot resize disk {path}", privileged.qemu_img_resize, path, size, fmt=info.format)


def snapshot_disk(src: Path, dest: Path, *, in_use: bool = True, out_format: str = "qcow2") -> None:
    """Write `dest`, a stand-alone copy (the backing chain flattened) of the disk `src`.

    in_use: the disk may belong to a running guest (`qemu-img convert -U`); the copy is
    then only crash-consistent unless the caller paused the guest."""
    fmt = disk_info(src).format
    _prepare_dest(dest)
    tmp = Path(dest).with_name(Path(dest).name + ".part")
    try:
        _run(
            f"cannot snapshot disk {src}",
            privileged.qemu_img_convert,
            src,
            tmp,
            src_format=fmt,
            out_format=out_format,
            force_share=in_use,
        )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


# -- helpers ---------------------------------------------------------------------------


def _prepare_dest(dest: Path) -> None:
    dest = Path(dest)
    if dest.exists():
        raise DiskError(f"disk file {dest} already exists")
    dest.parent.mkdir(parents=True, exist_ok=True)


def _overlay(base: Path, dest: Path) -> None:
    _run(
        f"cannot create disk {dest}",
        privileged.qemu_img_create,
        dest,
        "qcow2",
        None,
        backing_file=Path(base).resolve(),
        backing_format="raw",
    )


def _overlay_on_base(dest: Path, base: Path, size: int, make_fs: Callable[[Path], None]) -> None:
    """Make the raw base once, then the overlay, all under the base's lock (the image
    cache's protocol: `<base>.lock`, temp files `<base>.part-*`, mtime = last use), so
    concurrent boots never overlay a half-made base and eviction never removes it
    between its creation and the overlay's."""
    _prepare_dest(dest)
    base.parent.mkdir(parents=True, exist_ok=True)
    with _BaseLock(base.with_name(f"{base.name}.lock")):
        if base.exists():
            os.utime(base)
        else:
            tmp = base.with_name(f"{base.name}.part-{uuid.uuid4().hex[:8]}")
            try:
                _run(f"cannot create base {base}", privileged.qemu_img_create, tmp, "raw", size)
                _run(f"cannot format base {base}", make_fs, tmp)
                os.replace(tmp, base)
            finally:
                tmp.unlink(missing_ok=True)
        _overlay(base, dest)


class _BaseLock:
    """A blocking exclusive `flock` on a file that exists only while held (the holder
    unlinks it before releasing; a waiter that got the lock on an unlinked inode retries).
    Compatible with `imagecache`'s lock on the same `_base/<name>.lock` files."""

    def __init__(self, path: Path, timeout: float = 600.0) -> None:
        self.path, self.timeout = path, timeout
        self._fd: int | None = None

    def __enter__(self) -> _BaseLock:
        deadline = time.monotonic() + self.timeout
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() > deadline:
                    raise DiskError(f"timed out waiting for {self.path}") from None
                time.sleep(0.05)
                continue
            mine = os.fstat(fd)
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                st = None
            if st is not None and (st.st_ino, st.st_dev) == (mine.st_ino, mine.st_dev):
                self._fd = fd
                return self
            os.close(fd)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None
