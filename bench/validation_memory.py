"""Memory of request validation: does a stream of rejected requests grow the server?

Starts a real `stackbox up` (temp state dir and HOME, random port, libvirt's
`test:///default`), takes an admin token, then sends N rejected
`POST /compute/v2.1/servers` (bad bodies at several microversions, each a 400 from the
body schema) on ONE keep-alive httpx connection, printing the RSS of the server process
at the start, every 10,000 requests and at the end, and the growth. Target: growth
<= 10 MiB for N = 100,000 (a validator cached per request, never freed, grew the server
by ~200 MiB over 30,000 requests).

Run: `.venv/bin/python bench/validation_memory.py [-n 100000] [--every 10000]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import identity as ident  # noqa: E402

TARGET_MIB = 10.0
SERVERS = "/compute/v2.1/servers"

# (microversion or None, body): every one fails the create schema of its version.
BAD: list[tuple[str | None, Any]] = [
    (None, {"server": {"name": "x"}}),  # no flavorRef
    (None, {"server": {"name": "x", "flavorRef": "1", "accessIPv4": "not-an-ip"}}),
    ("2.19", {"server": {"name": "x", "flavorRef": "1", "description": 5}}),
    ("2.37", {"server": {"name": "x", "flavorRef": "1"}}),  # networks required
    ("2.52", {"server": {"name": "x", "flavorRef": "1", "networks": "none", "tags": [1]}}),
    ("2.74", {"server": {"name": "x", "flavorRef": "1", "networks": "none", "host": 7}}),
    ("2.90", {"server": {"name": "x", "flavorRef": "1", "networks": "none", "hostname": "-"}}),
    ("latest", {"server": {"name": "", "flavorRef": "1", "networks": "auto"}}),
    ("2.1", {"server": {"name": "x", "flavorRef": "1", "bogus": True}}),
]


def start(state: Path, home: Path, port: int) -> tuple[subprocess.Popen, list[str]]:
    env = {
        **os.environ,
        "HOME": str(home),
        "STACKBOX_COMPUTE__VIRT_URI": "test:///default",
        "STACKBOX_UP__WRITE_USER_CLOUDS_YAML": "false",
        "STACKBOX_UP__TEST_GUEST": "false",
        "STACKBOX_IDENTITY__PASSWORD_HASH_MEMORY_KIB": "8192",
    }
    env.pop("STACKBOX_CONFIG", None)
    cmd = [sys.executable, "-m", "stackbox", "up", "--state-dir", str(state)]
    cmd += ["--port", str(port), "--bind", "127.0.0.1"]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    return proc, ident.wait_ready(proc)


def admin_token(client: httpx.Client, password: str) -> str:
    scope = {"project": {"name": "admin", "domain": {"name": "Default"}}}
    user = {"name": "admin", "domain": {"name": "Default"}, "password": password}
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}
    body["auth"]["scope"] = scope
    r = client.post("/identity/v3/auth/tokens", json=body)
    r.raise_for_status()
    return r.headers["x-subject-token"]


def hammer(client: httpx.Client, token: str, pid: int, n: int, every: int) -> dict[str, Any]:
    """N rejected creates on the client's one connection; RSS samples along the way."""
    requests = [
        (
            json.dumps(body).encode(),
            {"X-Auth-Token": token, "Content-Type": "application/json"}
            | ({"OpenStack-API-Version": f"compute {mv}"} if mv else {}),
        )
        for mv, body in BAD
    ]
    samples = [(0, ident.rss_mib(pid))]
    print(f"      0 requests: RSS {samples[0][1]:7.1f} MiB", flush=True)
    started = time.perf_counter()
    for i, (content, headers) in enumerate(cycle(requests), start=1):
        r = client.post(SERVERS, content=content, headers=headers)
        if r.status_code != 400:
            raise RuntimeError(f"request {i}: expected 400, got {r.status_code}: {r.text}")
        if i % every == 0 or i == n:
            samples.append((i, ident.rss_mib(pid)))
            print(f"{i:7d} requests: RSS {samples[-1][1]:7.1f} MiB", flush=True)
        if i == n:
            break
    seconds = time.perf_counter() - started
    growth = samples[-1][1] - samples[0][1]
    return {
        "requests": n,
        "seconds": round(seconds, 1),
        "requests_per_s": round(n / seconds),
        "rss_start_mib": round(samples[0][1], 1),
        "rss_end_mib": round(samples[-1][1], 1),
        "rss_max_mib": round(max(s for _, s in samples), 1),
        "growth_mib": round(growth, 1),
        "target_growth_mib": TARGET_MIB,
        "ok": growth <= TARGET_MIB,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--requests", type=int, default=100_000)
    ap.add_argument("--every", type=int, default=10_000, help="print RSS every this many")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="sbx-bench-home-"))
    state = Path(tempfile.mkdtemp(prefix="sbx-bench-valid-"))
    port = ident.free_port()
    proc, _ = start(state, home, port)
    try:
        password = (state / "admin-password").read_text().strip()
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, limits=limits, timeout=30) as client:
            token = admin_token(client, password)
            result = hammer(client, token, proc.pid, args.requests, args.every)
        print(json.dumps(result, indent=1), flush=True)
        return 0 if result["ok"] else 1
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
