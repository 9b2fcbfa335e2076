"""The compute image cache: download once, verify, lock across processes, evict."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from stackbox import config, privileged
from stackbox.compute.imagecache import (
    FileImageSource,
    HttpImageSource,
    ImageCache,
    ImageFetchError,
    ImageNotFound,
    ImageSource,
    ImageVerificationError,
    backing_files,
    base_name,
)

TOKEN = "secret-token"
IMG = "7b2a3c1e-0000-4000-8000-000000000001"
IMG2 = "7b2a3c1e-0000-4000-8000-000000000002"


@dataclass
class ImageServer:
    """A real HTTP server on loopback serving /v2/images/<id>/file."""

    url: str = ""
    images: dict[str, bytes] = field(default_factory=dict)
    corrupt: set[str] = field(default_factory=set)  # send other bytes than stored
    status: dict[str, int] = field(default_factory=dict)  # answer this status instead
    delay: float = 0.0  # seconds before sending the body
    barrier: threading.Barrier | None = None  # requests wait here for each other
    requests: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(srv: ImageServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = self.path.removeprefix("/image").strip("/").split("/")
            if self.headers.get("X-Auth-Token") != TOKEN:
                return self._send(401, b"no token")
            if len(parts) != 4 or parts[:2] != ["v2", "images"] or parts[3] != "file":
                return self._send(404, b"no route")
            image_id = parts[2]
            with srv.lock:
                srv.requests[image_id] += 1
            if image_id in srv.status:
                return self._send(srv.status[image_id], b"error")
            if image_id not in srv.images:
                return self._send(404, b"no image")
            if srv.barrier is not None:
                try:
                    srv.barrier.wait(timeout=5)
                except threading.BrokenBarrierError:
                    return self._send(503, b"requests were not concurrent")
            time.sleep(srv.delay)
            data = srv.images[image_id]
            if image_id in srv.corrupt:
                data = bytes([data[0] ^ 0xFF]) + data[1:]  # always differs
            self._send(200, data)

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def server() -> Iterator[ImageServer]:
    srv = ImageServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(srv))
    httpd.daemon_threads = True
    srv.url = f"http://127.0.0.1:{httpd.server_address[1]}/image"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        httpd.shutdown()
        httpd.server_close()


def _hashes(data: bytes) -> dict[str, Any]:
    return {
        "checksum": hashlib.md5(data).hexdigest(),
        "os_hash_algo": "sha512",
        "os_hash_value": hashlib.sha512(data).hexdigest(),
        "size": len(data),
    }


def _files(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return tmp_path / "instances" / "_base"


# --- download, verify, reuse ------------------------------------------------------------


async def test_first_ensure_downloads_and_verifies_sha512(server: ImageServer, base: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 123)  # several 1 MiB chunks
    server.images[IMG] = data
    cache = ImageCache(base, HttpImageSource(server.url, TOKEN))
    h = _hashes(data)
    path = await cache.ensure(
        IMG, os_hash_algo="sha512", os_hash_value=str(h["os_hash_value"]), size=len(data)
    )
    assert path == base / hashlib.sha1(IMG.encode()).hexdigest() == base / base_name(IMG)
    assert path.read_bytes() == data
    assert _files(base) == [path.name, f"{path.name}.info"]  # no temp, no lock left
    [entry] = cache.list_entries()
    assert (entry.path, entry.image_id, entry.size) == (path, IMG, len(data))
    assert entry.hash_algo == "sha512" and entry.hash_value == h["os_hash_value"]
    assert server.requests[IMG] == 1


async def test_md5_checksum_path_and_async_token(server: ImageServer, base: Path) -> None:
    server.images[IMG] = b"tiny image"

    async def token() -> str:
        return TOKEN

    cache = ImageCache(base, HttpImageSource(server.url, token))
    path = await cache.ensure(IMG, checksum=hashlib.md5(b"tiny image").hexdigest())
    assert path.read_bytes() == b"tiny image"
    assert cache.list_entries()[0].hash_algo == "md5"


async def test_second_ensure_does_not_download_again(server: ImageServer, base: Path) -> None:
    server.images[IMG] = b"data" * 1000
    h = _hashes(server.images[IMG])
    first = await ImageCache(base, HttpImageSource(server.url, TOKEN)).ensure(IMG, **h)
    os.utime(first, (1000, 1000))
    cache = ImageCache(base, HttpImageSource(server.url, TOKEN))  # a new object, same dir
    assert await cache.ensure(IMG, **h) == first
    assert await cache.ensure(IMG) == first
    assert server.requests[IMG] == 1
    assert first.stat().st_mtime > time.time() - 60  # use recorded


async def test_ten_concurrent_ensures_download_once(server: ImageServer, base: Path) -> None:
    server.images[IMG] = os.urandom(100_000)
    server.delay = 0.3
    cache = ImageCache(base, HttpImageSource(server.url, TOKEN))
    other = ImageCache(base, HttpImageSource(server.url, TOKEN))  # same dir: flock path
    h = _hashes(server.images[IMG])
    paths = await asyncio.gather(
        *(cache.ensure(IMG, **h) for _ in range(8)),
        *(other.ensure(IMG, **h) for _ in range(2)),
    )
    assert len(set(paths)) == 1 and server.requests[IMG] == 1


async def test_different_images_download_in_parallel(server: ImageServer, base: Path) -> None:
    server.images.update({IMG: b"one" * 100, IMG2: b"two" * 100})
    server.barrier = threading.Barrier(2)  # each request waits until both have arrived
    cache = ImageCache(base, HttpImageSource(server.url, TOKEN))
    p1, p2 = await asyncio.gather(cache.ensure(IMG), cache.ensure(IMG2))
    assert (p1.read_bytes(), p2.read_bytes()) == (b"one" * 100, b"two" * 100)


# --- failures leave nothing behind ------------------------------------------------------


@pytest.mark.parametrize("which", ["sha512", "md5", "size"])
async def test_corrupted_download_is_rejected(server: ImageServer, base: Path, which: str) -> None:
    data = os.urandom(5000)
    server.images[IMG] = data
    server.corrupt.add(IMG)
    h = _hashes(data)
    kwargs: dict[str, Any] = {
        "sha512": {"os_hash_algo": "sha512", "os_hash_value": h["os_hash_value"]},
        "md5": {"checksum": h["checksum"]},
        "size": {"size": len(data) + 1},
    }[which]
    cache = ImageCache(base, HttpImageSource(server.url, TOKEN))
    with pytest.raises(ImageVerificationError, match="mismatch"):
        await cache.ensure(IMG, **kwargs)
    assert _files(base) == []
    assert cache.list_entries() == []


async def test_not_found_and_server_errors(server: ImageServer, base: Path) -> None:
    server.status[IMG2] = 500
    cache = ImageCache(base, HttpImageSource(server.url, TOKEN))
    with pytest.raises(ImageNotFound, match=IMG):
        await cache.ensure(IMG)
    with pytest.raises(ImageFetchError) as err:
        await cache.ensure(IMG2)
    assert err.value.status == 500 and "HTTP 500" in str(err.value)
    with pytest.raises(ImageFetchError) as err:
        await ImageCache(base, HttpImageSource(server.url, "wrong")).ensure(IMG)
    assert err.value.status == 401
    assert _files(base) == []


async def test_unreachable_server_is_a_fetch_error(base: Path) -> None:
    cache = ImageCache(base, HttpImageSource("http://127.0.0.1:9/image", TOKEN, timeout=2))
    with pytest.raises(ImageFetchError, match="ConnectError"):
        await cache.ensure(IMG)
    assert _files(base) == []


async def test_unknown_hash_algorithm(tmp_path: Path, base: Path) -> None:
    (tmp_path / IMG).write_bytes(b"abc")
    cache = ImageCache(base, FileImageSource(tmp_path))
    with pytest.raises(ImageVerificationError, match="unknown hash"):
        await cache.ensure(IMG, os_hash_algo="nohash", os_hash_value="00")
    # ...falls back to md5 when there is one
    md5 = hashlib.md5(b"abc").hexdigest()
    path = await cache.ensure(IMG, os_hash_algo="nohash", os_hash_value="00", checksum=md5)
    assert path.read_bytes() == b"abc"


async def test_crash_leftovers_are_cleaned(tmp_path: Path, base: Path) -> None:
    (tmp_path / IMG).write_bytes(b"good data")
    base.mkdir(parents=True)
    name, other = base_name(IMG), base_name(IMG2)
    (base / f"{name}.part-deadbeef").write_bytes(b"half")
    (base / f"{other}.part-cafe").write_bytes(b"half of another")
    (base / f"{other}.info").write_text("{}")  # sidecar without its base
    cache = ImageCache(base, FileImageSource(tmp_path))
    assert await cache.ensure(IMG) == base / name
    assert _files(base) == [name, f"{name}.info", f"{other}.info", f"{other}.part-cafe"]
    removed = cache.cleanup()
    assert {p.name for p in removed} == {f"{other}.part-cafe", f"{other}.info"}
    assert _files(base) == [name, f"{name}.info"]


async def test_cancelled_download_leaves_nothing(server: ImageServer, base: Path) -> None:
    server.images[IMG] = b"slow" * 100
    server.delay = 2
    cache = ImageCache(base, HttpImageSource(server.url, TOKEN))
    task = asyncio.create_task(cache.ensure(IMG))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)
    assert _files(base) == []


# --- the file source (the fake) ---------------------------------------------------------


async def test_file_image_source(tmp_path: Path, base: Path) -> None:
    store = tmp_path / "images"
    store.mkdir()
    (store / IMG).write_bytes(b"x" * 3_000_000)
    src = FileImageSource(store)
    assert isinstance(src, ImageSource)
    assert isinstance(HttpImageSource("http://h/image", TOKEN), ImageSource)
    cache = ImageCache(base, src)
    assert (await cache.ensure(IMG, size=3_000_000)).read_bytes() == b"x" * 3_000_000
    for bad in (IMG2, "../images/" + IMG, ".."):
        with pytest.raises(ImageNotFound):
            await cache.ensure(bad)


# --- eviction ---------------------------------------------------------------------------


async def test_evict_old_unused_keeps_in_use_and_recent(tmp_path: Path, base: Path) -> None:
    ids = [f"image-{i}" for i in range(4)]
    for i in ids:
        (tmp_path / i).write_bytes(i.encode())
    cache = ImageCache(base, FileImageSource(tmp_path))
    paths = [await cache.ensure(i) for i in ids]
    old = time.time() - 100_000
    for p in paths[:3]:
        os.utime(p, (old, old))
    (base / "swap_30").write_bytes(b"")  # another component's base, old and unused
    os.utime(base / "swap_30", (old, old))
    in_use = {paths[0], base / ".." / "_base" / paths[1].name}  # resolved before comparing
    removed = cache.evict(86400, in_use)
    assert set(removed) == {paths[2], base / "swap_30"}
    kept = [paths[0], paths[1], paths[3]]
    assert _files(base) == sorted([p.name for p in kept] + [f"{p.name}.info" for p in kept])
    # a callable is asked for the in-use set; an ensure makes an entry recent again
    os.utime(paths[3], (old, old))
    await cache.ensure(ids[1])
    asked: list[bool] = []

    def nothing_in_use() -> set[Path]:
        asked.append(True)
        return set()

    assert sorted(cache.evict(86400, nothing_in_use)) == sorted([paths[0], paths[3]])
    assert asked == [True]
    assert [e.image_id for e in cache.list_entries()] == [ids[1]]


# --- backing files (qemu-img) -----------------------------------------------------------

needs_qemu_img = pytest.mark.skipif(
    not privileged.available("qemu-img"), reason="needs qemu-img (qemu-utils)"
)


@needs_qemu_img
async def test_backing_files_of_qcow2_overlays(tmp_path: Path) -> None:
    instances = tmp_path / "instances"
    base = instances / "_base"
    store = tmp_path / "images"
    store.mkdir()
    raw = store / IMG
    privileged.run(["qemu-img", "create", "-f", "raw", "--", str(raw), "1M"])
    cache = ImageCache(base, FileImageSource(store))
    base_file = await cache.ensure(IMG)
    (instances / "inst-1").mkdir()
    (instances / "inst-2").mkdir()
    disk = instances / "inst-1" / "disk"
    privileged.run(
        ["qemu-img", "create", "-f", "qcow2", "-b", str(base_file), "-F", "raw", str(disk)]
    )
    # a relative backing path, and a chain: disk.local -> disk (qcow2) -> base
    local = instances / "inst-2" / "disk.local"
    privileged.run(
        ["qemu-img", "create", "-f", "qcow2", "-b", "../inst-1/disk", "-F", "qcow2", str(local)]
    )
    (instances / "inst-2" / "console.log").write_text("not a disk")
    found = backing_files(instances)
    assert found == {base_file.resolve(), disk.resolve()}
    old = time.time() - 100_000
    os.utime(base_file, (old, old))
    assert cache.evict(86400, lambda: backing_files(instances)) == []
    assert base_file.exists()


def test_backing_files_follows_chains_and_fails_loudly(tmp_path: Path) -> None:
    for name in ("a/disk", "b/disk", "_base/disk-like"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    mid = tmp_path / "mid.qcow2"
    mid.write_bytes(b"")
    chains = {
        tmp_path / "a/disk": {"backing-filename": str(mid), "backing-filename-format": "qcow2"},
        mid: {"full-backing-filename": "/base/raw", "backing-filename-format": "raw"},
        tmp_path / "b/disk": {},
    }
    assert backing_files(tmp_path, info=lambda p: chains[p]) == {mid, Path("/base/raw")}

    def broken(p: Path) -> dict[str, object]:
        raise privileged.CommandError(["qemu-img"], 1, "locked")

    with pytest.raises(privileged.CommandError):
        backing_files(tmp_path, info=broken)


# --- across processes -------------------------------------------------------------------

_SCRIPT = """
import asyncio, sys
from pathlib import Path
from stackbox.compute.imagecache import HttpImageSource, ImageCache
sys.stdin.readline()  # start together
cache = ImageCache(Path(sys.argv[1]), HttpImageSource(sys.argv[2], sys.argv[3]))
print(asyncio.run(cache.ensure(sys.argv[4])))
"""


def test_two_processes_download_once(server: ImageServer, base: Path) -> None:
    server.images[IMG] = os.urandom(50_000)
    server.delay = 1.0
    argv = [sys.executable, "-c", _SCRIPT, str(base), server.url, TOKEN, IMG]
    procs = [
        subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    time.sleep(0.5)  # both imported and waiting
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate(timeout=15)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs == [str(base / base_name(IMG))] * 2
    assert server.requests[IMG] == 1
    assert _files(base) == [base_name(IMG), f"{base_name(IMG)}.info"]


def test_config_option() -> None:
    cfg = config.load(env={})
    assert cfg.compute.image_cache_max_age == 86400
    cfg = config.load(env={"STACKBOX_COMPUTE__IMAGE_CACHE_MAX_AGE": "60"})
    assert cfg.get("compute", "image_cache_max_age") == 60
