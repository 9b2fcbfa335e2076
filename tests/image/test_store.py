"""The file store and the ingest pipeline, without HTTP."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import anyio
import pytest

from stackbox.image.ingest import Ingest
from stackbox.image.store import ImageStore


def test_ingest_commit(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    data = os.urandom(9 * 1024 * 1024 + 3)

    async def run() -> None:
        pending = store.new_file()
        ingest = Ingest(pending)
        for i in range(0, len(data), 65536):
            await ingest.feed(data[i : i + 65536])
        digest = await ingest.finish()
        assert digest.size == len(data)
        assert digest.checksum == hashlib.md5(data).hexdigest()
        assert digest.os_hash_value == hashlib.sha512(data).hexdigest()
        pending.commit(store.path("img1"))

    anyio.run(run)
    assert store.path("img1").read_bytes() == data
    assert store.leftovers() == []
    store.delete("img1")
    assert not store.exists("img1")


def test_ingest_abort_leaves_nothing(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")

    async def run() -> None:
        ingest = Ingest(store.new_file())
        await ingest.feed(b"x" * (5 << 20))
        await ingest.abort()

    anyio.run(run)
    assert store.leftovers() == []
    assert list(store.root.iterdir()) == [store.staging]


def test_ingest_reports_write_errors(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")

    async def run() -> None:
        pending = store.new_file()
        pending.fh.close()  # every write now fails
        ingest = Ingest(pending)
        with pytest.raises(ValueError):
            for _ in range(8):
                await ingest.feed(b"x" * (4 << 20))
            await ingest.finish()
        await ingest.abort()

    anyio.run(run)
    assert store.leftovers() == []


def test_bad_ids(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    for bad in ("", "../x", ".tmp-1", "a/b"):
        with pytest.raises(ValueError):
            store.path(bad)
