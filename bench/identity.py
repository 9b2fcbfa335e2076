"""Identity API throughput, side by side with the ceiling of the server stack.

Starts a real `stackbox up` (temp state dir, loopback, random port) and a bare ASGI
"hello" app on the same stack (uvicorn + httptools + uvloop, one process), then drives
both with the same client:

- authenticated `GET /identity/v3/projects/{id}` requests/s and p50 latency, against
  the hello app's requests/s (the ceiling) -> ratio (target >= 30%, >= 1,500 req/s);
- token issues/s (password auth; bounded by the argon2id KDF);
- resident memory of `stackbox up` after bootstrap and after the load.

Clients: `python` (8 threads, keep-alive http.client; the default) and `wrk` (C, if
installed: `apt-get install wrk`). Run: `.venv/bin/python bench/identity.py`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 60.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def wait_ready(proc: subprocess.Popen) -> list[str]:
    """Read `stackbox up`'s output until its ready line (RuntimeError with the last
    lines if it ends first), then keep draining it in a thread so the server never
    blocks on a full pipe. Returns the lines read."""
    out: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        out.append(line)
        if "stackbox: ready" in line:
            break
    else:
        raise RuntimeError("stackbox up did not get ready:\n" + "".join(out[-20:]))
    threading.Thread(target=lambda: [None for _ in proc.stdout or ()], daemon=True).start()
    return out


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def python_load(
    port: int, path: str, headers: dict, threads: int, seconds: float
) -> tuple[float, float]:
    """(requests/s, p50 ms) from `threads` keep-alive clients for `seconds`."""
    lat: list[list[float]] = [[] for _ in range(threads)]
    errors = [0]
    stop = time.perf_counter() + seconds

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        mine = lat[i]
        while True:
            t0 = time.perf_counter()
            if t0 > stop:
                break
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                errors[0] += 1
            mine.append(time.perf_counter() - t0)
        conn.close()

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - t0
    allv = [x for xs in lat for x in xs]
    if errors[0]:
        raise RuntimeError(f"{errors[0]} requests failed")
    return len(allv) / elapsed, statistics.median(allv) * 1000


def wrk_load(
    port: int, path: str, headers: dict, threads: int, seconds: float
) -> tuple[float, float]:
    cmd = ["wrk", f"-t{threads}", f"-c{threads}", f"-d{int(seconds)}s", "--latency"]
    # wrk inherits this process's CPU affinity (the client CPUs).
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(
        [*cmd, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(out)
    rps = float(next(ln for ln in out.splitlines() if ln.startswith("Requests/sec")).split()[1])
    p50 = next(ln for ln in out.splitlines() if ln.strip().startswith("50%")).split()[1]
    ms = (
        float(p50[:-2])
        if p50.endswith("ms")
        else float(p50[:-2]) / 1000
        if p50.endswith("us")
        else float(p50[:-1]) * 1000
    )
    return rps, ms


def request(
    port: int, method: str, path: str, body: dict | None = None, headers: dict | None = None
) -> tuple[int, dict, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        method,
        path,
        body=json.dumps(body) if body else None,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    r = conn.getresponse()
    data = r.read()
    conn.close()
    headers = {k.lower(): v for k, v in r.getheaders()}
    return r.status, headers, json.loads(data) if data else {}


def token_rate(port: int, password: str, seconds: float, threads: int = 2) -> float:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "admin", "domain": {"name": "Default"}, "password": password}
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
        }
    }
    count = [0]
    stop = time.time() + seconds

    def worker() -> None:
        while time.time() < stop:
            status, _, _ = request(port, "POST", "/identity/v3/auth/tokens", body)
            assert status == 201
            count[0] += 1

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return count[0] / (time.time() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--client", choices=["python", "wrk", "both"], default="both")
    args = ap.parse_args()
    clients = ["python", "wrk"] if args.client == "both" else [args.client]
    if "wrk" in clients and not shutil.which("wrk"):
        print("wrk not installed (apt-get install wrk): python client only")
        clients = ["python"]

    state = tempfile.mkdtemp(prefix="sbx-bench-")
    port, hello_port = free_port(), free_port()
    env = {
        **os.environ,
        "STACKBOX_UP__WRITE_USER_CLOUDS_YAML": "false",
        "STACKBOX_UP__TEST_GUEST": "false",
    }
    t0 = time.time()
    cloud = subprocess.Popen(
        [
            PY,
            "-m",
            "stackbox",
            "up",
            "--state-dir",
            state,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    hello = subprocess.Popen(
        [
            PY,
            "-m",
            "uvicorn",
            "--app-dir",
            str(ROOT / "bench"),
            "hello_app:app",
            "--port",
            str(hello_port),
            "--http",
            "httptools",
            "--loop",
            "uvloop",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        stderr=subprocess.DEVNULL,
    )
    # Servers on CPU 0, the client (this process, wrk) on the others: the client never
    # steals the server's core, in both measurements alike.
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2:
        for p in (cloud, hello):
            os.sched_setaffinity(p.pid, {cpus[0]})
        os.sched_setaffinity(0, set(cpus[1:]))
    try:
        assert cloud.stdout is not None
        for line in cloud.stdout:
            if "ready" in line:
                break
        ready_s = time.time() - t0
        wait_port(hello_port)
        time.sleep(1.0)
        rss_boot = rss_mib(cloud.pid)
        password = Path(state, "admin-password").read_text().strip()
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "admin",
                            "domain": {"name": "Default"},
                            "password": password,
                        }
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
            }
        }
        status, headers, tok = request(port, "POST", "/identity/v3/auth/tokens", body)
        assert status == 201, status
        token = headers["x-subject-token"]
        project = tok["token"]["project"]["id"]
        auth = {"X-Auth-Token": token}
        path = f"/identity/v3/projects/{project}"
        assert request(port, "GET", path, headers=auth)[0] == 200

        print(
            f"stackbox up: ready in {ready_s:.1f} s, RSS after bootstrap {rss_boot:.0f} MiB "
            f"(target < 200 MiB)"
        )
        for client in clients:
            load = python_load if client == "python" else wrk_load
            load(port, path, auth, args.threads, 2)  # warm up
            rps, p50 = load(port, path, auth, args.threads, args.seconds)
            h_rps, h_p50 = load(hello_port, "/", {}, args.threads, args.seconds)
            print(f"[{client} client, {args.threads} threads, {args.seconds:.0f} s each]")
            print(
                f"  GET /identity/v3/projects/{{id}} (authenticated): {rps:8.0f} req/s  "
                f"p50 {p50:6.2f} ms"
            )
            print(
                f"  bare ASGI hello, same stack (ceiling):          {h_rps:8.0f} req/s  "
                f"p50 {h_p50:6.2f} ms"
            )
            print(
                f"  ratio {rps / h_rps:.0%} (target >= 30%), absolute target >= 1,500 req/s: "
                f"{'met' if rps >= 1500 and rps / h_rps >= 0.30 else 'NOT met'}"
            )
        rate = token_rate(port, password, 5.0)
        print(f"token issues: {rate:.1f}/s (2 client threads, argon2id; Keystone 30: 3.75/s)")
        print(f"RSS after load: {rss_mib(cloud.pid):.0f} MiB")
    finally:
        for p in (cloud, hello):
            p.terminate()
            p.wait(timeout=20)
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
