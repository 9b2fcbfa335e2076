"""The image file store: one file per image under `STATE_DIR/images/<id>`.

Data is written to a hidden temporary file in the same directory and renamed to its
final name only after it is complete, fsynced and checked, so a reader never sees a
partial image and a failed upload leaves nothing behind. Staged data (the interoperable
import's `stage` step) lives under `images/staging/<id>` until it is imported. No
database access here, and no hashing (see `ingest.py`).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import BinaryIO


class PendingFile:
    """A temporary file being written; `commit` renames it, `discard` removes it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / f".tmp-{uuid.uuid4().hex}"
        self.fh: BinaryIO = open(self.path, "xb", buffering=0)  # noqa: SIM115
        self.done = False

    def sync(self) -> None:
        """Flush the data to disk (called from the writer thread after the last block)."""
        os.fsync(self.fh.fileno())

    def commit(self, dest: Path) -> Path:
        """Close and atomically move the data to `dest` (same filesystem)."""
        self.fh.close()
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, dest)
        _fsync_dir(dest.parent)
        self.done = True
        return dest

    def discard(self) -> None:
        if self.done:
            return
        self.done = True
        with contextlib.suppress(OSError):
            self.fh.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ImageStore:
    """Image data files in one directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.staging = self.root / "staging"

    def ensure(self) -> None:
        self.staging.mkdir(parents=True, exist_ok=True)

    def path(self, image_id: str) -> Path:
        return self.root / _safe(image_id)

    def staged_path(self, image_id: str) -> Path:
        return self.staging / _safe(image_id)

    def exists(self, image_id: str) -> bool:
        return self.path(image_id).is_file()

    def new_file(self, staged: bool = False) -> PendingFile:
        self.ensure()
        return PendingFile(self.staging if staged else self.root)

    def delete(self, image_id: str) -> None:
        """Remove an image's data and any staged data (missing files are fine)."""
        for p in (self.path(image_id), self.staged_path(image_id)):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()

    def promote(self, image_id: str) -> Path:
        """Move staged data to the image's final place."""
        dest = self.path(image_id)
        os.replace(self.staged_path(image_id), dest)
        _fsync_dir(self.root)
        return dest

    def leftovers(self) -> list[Path]:
        """Temporary files (there should be none when no upload is running)."""
        return [p for d in (self.root, self.staging) if d.is_dir() for p in d.glob(".tmp-*")]


def _safe(image_id: str) -> str:
    if not image_id or "/" in image_id or image_id.startswith("."):
        raise ValueError(f"bad image id {image_id!r}")
    return image_id
