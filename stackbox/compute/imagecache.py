"""The compute host's image cache: `STATE_DIR/instances/_base`, one file per image.

Instance root disks are qcow2 overlays whose backing file is an image's cached base file
(seed 004), so each image is downloaded once per host, however many instances use it.
This module owns that directory's layout and life cycle:

* `<sha1(image id)>` -- the image data, as fetched (Nova's naming). Only ever created by
  an atomic rename of a fully downloaded, verified file, so the final name never holds a
  partial image. Its mtime is its last use: `ensure` touches it.
* `<name>.info` -- a small JSON sidecar: image id, size, hash algorithm and value.
* `<name>.part-<random>` -- a download in progress; leftovers of a crash are removed.
* `<name>.lock` -- exists while a process holds the image's `flock`, so two compute
  processes on one host never download the same image twice. Locks are taken by polling
  with `LOCK_NB`, which keeps the event loop free and makes waiting cancellable.

Within one process, concurrent `ensure` calls for one image share a single task;
different images download in parallel. Eviction removes bases that no instance disk
backs and nobody used for `[compute] image_cache_max_age` seconds; `backing_files` reads
the instance disks' backing files (qemu-img, through `stackbox.privileged`) so the compute
service can say which bases are in use.

Not here: the database (never touched), image metadata look-ups (the caller passes the
size and hashes it got from the Image API), creating instance disks, format conversion.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackbox import privileged
from stackbox.compute.imagesource import (
    FileImageSource,
    HttpImageSource,
    ImageError,
    ImageFetchError,
    ImageNotFound,
    ImageSource,
)

__all__ = [
    "CacheEntry",
    "FileImageSource",
    "HttpImageSource",
    "ImageCache",
    "ImageError",
    "ImageFetchError",
    "ImageNotFound",
    "ImageSource",
    "ImageVerificationError",
    "backing_files",
    "base_dir_for",
    "base_name",
]

LOG = logging.getLogger(__name__)

_LOCK_POLL_MIN, _LOCK_POLL_MAX = 0.01, 0.25
_PART = ".part-"
_AUX_SUFFIXES = (".lock", ".info")


class ImageVerificationError(ImageError):
    """The downloaded data does not match the image's size or hash."""


@dataclass(frozen=True)
class CacheEntry:
    """One cached base file."""

    path: Path
    image_id: str | None  # None for a file without an .info sidecar
    size: int
    last_used: float  # epoch seconds (the base file's mtime)
    hash_algo: str | None = None
    hash_value: str | None = None


@dataclass(frozen=True)
class _Expected:
    size: int | None
    algo: str | None
    value: str | None


def base_name(image_id: str) -> str:
    """The cache file name of an image: the sha1 hex digest of its id, as Nova names it."""
    return hashlib.sha1(image_id.encode("utf-8")).hexdigest()


def base_dir_for(state_dir: Path) -> Path:
    """`STATE_DIR/instances/_base`."""
    return Path(state_dir) / "instances" / "_base"


def _expected(
    checksum: str | None, algo: str | None, value: str | None, size: int | None
) -> _Expected:
    """Pick the hash to verify: os_hash_algo/value when hashlib knows the algorithm,
    else the md5 `checksum`, else none (size only)."""
    if algo and value:
        algo = algo.lower()
        if algo in hashlib.algorithms_available and not algo.startswith("shake"):
            return _Expected(size, algo, value.lower())
        if not checksum:
            raise ImageVerificationError(f"cannot verify: unknown hash algorithm {algo!r}")
        LOG.warning("unknown hash algorithm %r; verifying the md5 checksum instead", algo)
    if checksum:
        return _Expected(size, "md5", checksum.lower())
    return _Expected(size, None, None)


def _verify_and_sync(path: Path, want: _Expected) -> str | None:
    """Check size and hash of a downloaded file, fsync it; returns the hex digest.
    Runs in a worker thread (hashlib releases the GIL)."""
    size = path.stat().st_size
    if want.size is not None and size != want.size:
        raise ImageVerificationError(f"size mismatch: got {size} bytes, expected {want.size}")
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, want.algo).hexdigest() if want.algo else None
        os.fsync(fh.fileno())
    if want.value is not None and digest != want.value:
        raise ImageVerificationError(f"{want.algo} mismatch: got {digest}, expected {want.value}")
    os.chmod(path, 0o644)
    return digest


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _FileLock:
    """An exclusive `flock` on `path`, which exists only while held.

    The holder unlinks the file before releasing; a waiter that then gets the lock on the
    unlinked inode notices (its fd no longer matches the path) and tries again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def _try_once(self) -> bool | None:
        """True: held; False: busy; None: lost a race with an unlink, retry."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return False
            raise
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None
        mine = os.fstat(fd)
        if st is None or (st.st_ino, st.st_dev) != (mine.st_ino, mine.st_dev):
            os.close(fd)
            return None
        self._fd = fd
        return True

    def try_acquire(self) -> bool:
        while (held := self._try_once()) is None:
            pass
        return held

    async def acquire(self) -> None:
        delay = _LOCK_POLL_MIN
        while True:
            held = self._try_once()
            if held:
                return
            if held is False:
                await asyncio.sleep(delay)
                delay = min(delay * 2, _LOCK_POLL_MAX)

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)  # closing drops the flock
        self._fd = None


class ImageCache:
    """The base files of one host's images in `base_dir` (`STATE_DIR/instances/_base`)."""

    def __init__(self, base_dir: Path, source: ImageSource) -> None:
        self.base_dir = Path(base_dir)
        self.source = source
        self._inflight: dict[str, asyncio.Task[Path]] = {}
        self._waiters: dict[str, int] = {}

    def path_for(self, image_id: str) -> Path:
        """Where the image's base file is (or would be)."""
        return self.base_dir / base_name(image_id)

    # ensure ---------------------------------------------------------------------------
    async def ensure(
        self,
        image_id: str,
        *,
        checksum: str | None = None,
        os_hash_algo: str | None = None,
        os_hash_value: str | None = None,
        size: int | None = None,
    ) -> Path:
        """The path of the image's base file, downloaded and verified first if this host
        does not have it yet. Verification uses os_hash_algo/os_hash_value when given
        (e.g. sha512), else the md5 `checksum`, and `size` when given. Raises
        `ImageNotFound`, `ImageFetchError` or `ImageVerificationError`; on failure no file
        is left behind. Marks the base file as used now."""
        want = _expected(checksum, os_hash_algo, os_hash_value, size)
        name = base_name(image_id)
        loop = asyncio.get_running_loop()
        task = self._inflight.get(name)
        if task is None or task.done() or task.get_loop() is not loop:
            task = loop.create_task(self._ensure_locked(image_id, name, want))
            self._inflight[name] = task
            self._waiters[name] = 0
            task.add_done_callback(lambda t: self._forget(name, t))
        self._waiters[name] += 1
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            # The last caller that gives up stops a download nobody waits for any more.
            if self._waiters.get(name) == 1 and self._inflight.get(name) is task:
                task.cancel()
            raise
        finally:
            if self._inflight.get(name) is task:
                self._waiters[name] -= 1

    def _forget(self, name: str, task: asyncio.Task[Path]) -> None:
        if self._inflight.get(name) is task:
            del self._inflight[name]
            del self._waiters[name]
        if not task.cancelled():
            task.exception()  # retrieved: callers that were cancelled don't see it

    async def _ensure_locked(self, image_id: str, name: str, want: _Expected) -> Path:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        final = self.base_dir / name
        lock = _FileLock(self.base_dir / f"{name}.lock")
        await lock.acquire()
        try:
            if final.is_file():
                self.touch(final)
                return final
            self._remove_parts(name)
            tmp = self.base_dir / f"{name}{_PART}{uuid.uuid4().hex}"
            try:
                LOG.info("fetching image %s into %s", image_id, final)
                started = time.monotonic()
                await self.source.fetch(image_id, tmp)
                digest = await asyncio.to_thread(_verify_and_sync, tmp, want)
                os.replace(tmp, final)
                _fsync_dir(self.base_dir)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                raise
            self._write_info(name, image_id, final.stat().st_size, want.algo, digest)
            LOG.info(
                "cached image %s (%d bytes) in %.1fs",
                image_id,
                final.stat().st_size,
                time.monotonic() - started,
            )
            return final
        finally:
            lock.release()

    def _write_info(
        self, name: str, image_id: str, size: int, algo: str | None, value: str | None
    ) -> None:
        info = {"image_id": image_id, "size": size, "hash_algo": algo, "hash_value": value}
        tmp = self.base_dir / f"{name}.info{_PART}{uuid.uuid4().hex}"
        tmp.write_text(json.dumps(info))
        os.replace(tmp, self.base_dir / f"{name}.info")

    def _remove_parts(self, name: str) -> None:
        """Remove a crashed download's temp files of one image (caller holds its lock)."""
        for part in self.base_dir.glob(f"{name}*{_PART}*"):
            LOG.info("removing leftover %s", part)
            with contextlib.suppress(FileNotFoundError):
                part.unlink()

    # usage, listing -------------------------------------------------------------------
    def touch(self, path: Path) -> None:
        """Record that a base file was used now (its mtime)."""
        os.utime(path)

    def _bases(self) -> Iterator[Path]:
        if not self.base_dir.is_dir():
            return
        for p in sorted(self.base_dir.iterdir()):
            if p.name.endswith(_AUX_SUFFIXES) or _PART in p.name or not p.is_file():
                continue
            yield p

    def _read_info(self, name: str) -> dict[str, Any]:
        try:
            data = json.loads((self.base_dir / f"{name}.info").read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def list_entries(self) -> list[CacheEntry]:
        """Every cached base file, with its image id when its sidecar says so."""
        entries = []
        for p in self._bases():
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            info = self._read_info(p.name)
            entries.append(
                CacheEntry(
                    path=p,
                    image_id=info.get("image_id"),
                    size=st.st_size,
                    last_used=st.st_mtime,
                    hash_algo=info.get("hash_algo"),
                    hash_value=info.get("hash_value"),
                )
            )
        return entries

    # cleanup, eviction ----------------------------------------------------------------
    def cleanup(self) -> list[Path]:
        """Remove temp files left by crashed downloads (skips images being fetched now)
        and sidecars whose base file is gone. Returns what was removed."""
        removed: list[Path] = []
        if not self.base_dir.is_dir():
            return removed
        names = {p.name.split(".", 1)[0] for p in self.base_dir.iterdir() if _PART in p.name}
        names |= {
            p.name[: -len(".info")]
            for p in self.base_dir.glob("*.info")
            if not (self.base_dir / p.name[: -len(".info")]).exists()
        }
        for name in sorted(names):
            lock = _FileLock(self.base_dir / f"{name}.lock")
            if not lock.try_acquire():
                continue
            try:
                doomed = list(self.base_dir.glob(f"{name}*{_PART}*"))
                info = self.base_dir / f"{name}.info"
                if info.exists() and not (self.base_dir / name).exists():
                    doomed.append(info)
                for p in doomed:
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()
                        removed.append(p)
            finally:
                lock.release()
        return removed

    def evict(
        self,
        max_age_seconds: float,
        in_use: set[Path] | Callable[[], set[Path]],
        *,
        now: float | None = None,
    ) -> list[Path]:
        """Remove base files that are not in `in_use` (paths of backing files of instance
        disks, or a callable returning them, asked after the scan) and were not used for
        more than `max_age_seconds`. Skips images being fetched. Also runs `cleanup`.
        Returns the removed base files."""
        self.cleanup()
        candidates = self.list_entries()
        used = in_use() if callable(in_use) else in_use
        used = {_resolve(p) for p in used}
        removed = []
        for entry in candidates:
            if _resolve(entry.path) in used:
                continue
            lock = _FileLock(self.base_dir / f"{entry.path.name}.lock")
            if not lock.try_acquire():
                continue
            try:
                # Re-check under the lock: `ensure` may have just used it.
                age = (time.time() if now is None else now) - entry.path.stat().st_mtime
                if age <= max_age_seconds:
                    continue
                LOG.info("evicting unused image base %s (unused for %.0fs)", entry.path, age)
                entry.path.unlink()
                with contextlib.suppress(FileNotFoundError):
                    (self.base_dir / f"{entry.path.name}.info").unlink()
                removed.append(entry.path)
            except FileNotFoundError:
                continue
            finally:
                lock.release()
        return removed


def _resolve(path: Path) -> Path:
    return Path(os.path.realpath(path))


def backing_files(
    instances_dir: Path,
    *,
    info: Callable[[Path], dict[str, Any]] = privileged.qemu_img_info_shared,
    max_depth: int = 16,
) -> set[Path]:
    """Resolved paths of every backing file (whole chains) of the disks
    `instances_dir/*/disk*`: the bases that must not be evicted.

    Raises `privileged.CommandError` when a disk that still exists cannot be read, so a
    caller never evicts on an incomplete answer. `info` is the qemu-img reader (the
    default works on running guests' disks too)."""
    found: set[Path] = set()
    for disk in sorted(Path(instances_dir).glob("*/disk*")):
        if disk.parent.name.startswith("_") or not disk.is_file():
            continue
        current, depth = disk, 0
        while depth < max_depth:
            try:
                data = info(current)
            except privileged.CommandError:
                if current is disk and not disk.exists():
                    break  # deleted meanwhile
                if current is not disk:
                    break  # an unreadable or missing backing file: already recorded
                raise
            backing = data.get("full-backing-filename") or data.get("backing-filename")
            if not backing:
                break
            path = Path(backing)
            if not path.is_absolute():
                path = current.parent / path
            path = _resolve(path)
            if path in found:
                break
            found.add(path)
            if data.get("backing-filename-format") == "raw" or not path.exists():
                break
            current, depth = path, depth + 1
    return found
