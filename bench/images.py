"""Image data throughput: upload and download of a 2 GiB image through a real
`stackbox up`, next to `cp` of the same file, and the server's memory during upload.

Starts `stackbox up` (temp state dir, loopback, random port), writes a 2 GiB file of
random 64 MiB blocks repeated into /tmp, then with a streaming http.client (1 MiB
reads of the file, Content-Length set):

- PUT /image/v2/images/{id}/file -> MB/s, against `cp` of the file (ratio, target >= 0.5)
  and against `cp` + fsync (the server fsyncs before it answers);
- GET …/file into a file -> MB/s, same comparison;
- peak RSS growth of the server during the upload (VmRSS sampled every 50 ms; target
  < 64 MiB);
- checks that checksum/os_hash_value match the file.

Run: `.venv/bin/python bench/images.py [--gib 2]`. Everything it writes is deleted.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PY = sys.executable
CHUNK = 1 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def request(port: int, method: str, path: str, body: object = None, headers: dict | None = None):  # type: ignore[no-untyped-def]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request(
        method,
        path,
        body=json.dumps(body) if body is not None else None,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(data) if data else {}


def make_file(path: Path, gib: int) -> tuple[str, str]:
    """2 GiB (by default) of random 64 MiB blocks repeated; returns (md5, sha512)."""
    block = os.urandom(64 << 20)
    md5, sha = hashlib.md5(), hashlib.sha512()
    with open(path, "wb") as fh:
        for i in range(gib * 16):
            b = block[i * 4096 :] + block[: i * 4096]
            fh.write(b)
            md5.update(b)
            sha.update(b)
    return md5.hexdigest(), sha.hexdigest()


def timed_cp(src: Path, dst: Path, fsync: bool) -> float:
    drop_cache(dst)
    t0 = time.perf_counter()
    subprocess.run(["cp", str(src), str(dst)], check=True)
    if fsync:
        fd = os.open(dst, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    elapsed = time.perf_counter() - t0
    dst.unlink()
    return elapsed


def drop_cache(path: Path) -> None:
    path.unlink(missing_ok=True)


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.05)


def upload(port: int, token: str, image_id: str, src: Path) -> float:
    size = src.stat().st_size
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.perf_counter()
    conn.putrequest("PUT", f"/image/v2/images/{image_id}/file")
    for k, v in {
        "X-Auth-Token": token,
        "Content-Type": "application/octet-stream",
        "Content-Length": str(size),
    }.items():
        conn.putheader(k, v)
    conn.endheaders()
    with open(src, "rb", buffering=0) as fh:
        while chunk := fh.read(CHUNK):
            conn.send(chunk)
    r = conn.getresponse()
    r.read()
    elapsed = time.perf_counter() - t0
    conn.close()
    if r.status != 204:
        raise RuntimeError(f"upload answered {r.status}")
    return elapsed


def download(port: int, token: str, image_id: str, dst: Path) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.perf_counter()
    conn.request("GET", f"/image/v2/images/{image_id}/file", headers={"X-Auth-Token": token})
    r = conn.getresponse()
    if r.status != 200:
        raise RuntimeError(f"download answered {r.status}")
    with open(dst, "wb", buffering=0) as fh:
        while chunk := r.read(CHUNK):
            fh.write(chunk)
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


WRAPPER = """
import ctypes, sys
import stackbox.cli as cli
def tune():
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, {kib} * 1024)
    libc.mallopt(-8, 4)
cli._tune_malloc = tune
sys.exit(cli.main({argv!r}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gib", type=int, default=2)
    ap.add_argument(
        "--mmap-threshold-kib",
        type=int,
        default=0,
        help="experiment: start the server with this glibc M_MMAP_THRESHOLD instead of "
        "the one stackbox.cli sets (128 KiB)",
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sbx-img-bench-", dir="/tmp"))
    state = work / "state"
    port = free_port()
    env = {
        **os.environ,
        "STACKBOX_UP__WRITE_USER_CLOUDS_YAML": "false",
        "STACKBOX_UP__TEST_GUEST": "false",
    }
    argv = ["up", "--state-dir", str(state), "--port", str(port), "--bind", "127.0.0.1"]
    cmd = [PY, "-m", "stackbox", *argv]
    if args.mmap_threshold_kib:
        cmd = [PY, "-c", WRAPPER.format(kib=args.mmap_threshold_kib, argv=argv)]
    cloud = subprocess.Popen(
        cmd,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert cloud.stdout is not None
        for line in cloud.stdout:
            if "ready" in line:
                break
        threading.Thread(target=lambda: [None for _ in cloud.stdout], daemon=True).start()  # type: ignore[union-attr]
        src, out = work / "image.bin", work / "out.bin"
        md5, sha = make_file(src, args.gib)
        size = src.stat().st_size
        mb = size / 1e6
        password = (state / "admin-password").read_text().strip()
        auth = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": "admin", "domain": {"name": "Default"},
                                 "password": password}
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
            }
        }  # fmt: skip
        status, headers, _ = request(port, "POST", "/identity/v3/auth/tokens", auth)
        assert status == 201, status
        token = headers["x-subject-token"]
        tok = {"X-Auth-Token": token}
        body = {"name": "bench", "disk_format": "raw", "container_format": "bare"}
        status, _, img = request(port, "POST", "/image/v2/images", body, tok)
        assert status == 201, status

        cp_s = timed_cp(src, work / "cp.bin", fsync=False)
        cp_sync_s = timed_cp(src, work / "cp.bin", fsync=True)
        rss0 = rss_mib(cloud.pid)
        sampler = RssSampler(cloud.pid)
        sampler.start()
        up_s = upload(port, token, img["id"], src)
        sampler.stop.set()
        sampler.join()
        down_s = download(port, token, img["id"], out)
        _, _, shown = request(port, "GET", f"/image/v2/images/{img['id']}", headers=tok)
        ok = shown["checksum"] == md5 and shown["os_hash_value"] == sha and shown["size"] == size
        same = out.stat().st_size == size

        print(f"image: {size / 2**30:.1f} GiB, server pid {cloud.pid}")
        print(f"cp                : {mb / cp_s:8.0f} MB/s  ({cp_s:.2f} s)")
        print(f"cp + fsync        : {mb / cp_sync_s:8.0f} MB/s  ({cp_sync_s:.2f} s)")
        print(
            f"upload   (PUT)    : {mb / up_s:8.0f} MB/s  ({up_s:.2f} s)  ratio to cp "
            f"{cp_s / up_s:.2f}, to cp+fsync {cp_sync_s / up_s:.2f} (target >= 0.5)"
        )
        print(
            f"download (GET)    : {mb / down_s:8.0f} MB/s  ({down_s:.2f} s)  ratio to cp "
            f"{cp_s / down_s:.2f} (target >= 0.5)"
        )
        print(
            f"server RSS        : {rss0:.0f} MiB before upload, peak {sampler.peak:.0f} MiB, "
            f"growth {sampler.peak - rss0:.0f} MiB (target < 64 MiB)"
        )
        print(f"checksum, os_hash_value, size match: {ok}; download size matches: {same}")
        request(port, "DELETE", f"/image/v2/images/{img['id']}", headers=tok)
    finally:
        cloud.terminate()
        cloud.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
