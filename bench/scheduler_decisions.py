"""Scheduler decisions per second: 1,000 requests over 1,000 hosts.

Builds a migrated SQLite database (WAL, as all-in-one runs it) in a temp dir with
`n_hosts` compute nodes of mixed sizes and their up, enabled compute services, then
times `n_requests` SchedulerManager.select_destinations calls of one instance each
with the default filters and weighers. Every decision is a real claim (conditional
UPDATE + allocation row, committed). Target: >= 200 decisions/s.

Run: `.venv/bin/python bench/scheduler_decisions.py [--hosts N] [--requests N]`.
`run()` returns the figures as a dict (bench/boot.py imports it).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from stackbox import config  # noqa: E402
from stackbox.compute.models import Allocation, ComputeNode  # noqa: E402
from stackbox.db import Database, migrate  # noqa: E402
from stackbox.db.base import utcnow  # noqa: E402
from stackbox.scheduler.manager import NoValidHost, SchedulerManager  # noqa: E402
from stackbox.service.models import ServiceRecord  # noqa: E402

FLAVORS = [  # m1.tiny .. m1.medium-ish, picked at random per request
    {"vcpus": 1, "memory_mb": 512, "root_gb": 1, "ephemeral_gb": 0, "swap": 0},
    {"vcpus": 1, "memory_mb": 2048, "root_gb": 20, "ephemeral_gb": 0, "swap": 0},
    {"vcpus": 2, "memory_mb": 4096, "root_gb": 40, "ephemeral_gb": 0, "swap": 512},
]


def populate(db: Database, n_hosts: int, rng: random.Random) -> None:
    now = utcnow()
    nodes, services = [], []
    for i in range(n_hosts):
        host = f"cmp{i:05d}"
        nodes.append(
            {
                "uuid": str(uuid.uuid4()),
                "host": host,
                "hypervisor_hostname": host,
                "hypervisor_type": "QEMU",
                "vcpus": rng.choice([16, 32, 64]),
                "memory_mb": rng.choice([65536, 131072, 262144]),
                "local_gb": rng.choice([500, 1000, 2000]),
                "cpu_info": {"arch": "x86_64"},
                "supported_instances": [["x86_64", "qemu", "hvm"]],
                "availability_zone": None,
                "created_at": now,
                "updated_at": now,
            }
        )
        services.append(
            {
                "uuid": str(uuid.uuid4()),
                "binary": "stackbox-compute",
                "topic": "compute",
                "host": host,
                "disabled": i % 50 == 49,  # a few disabled hosts for the filters to drop
                "forced_down": False,
                "report_count": 1,
                "last_seen_up": now,
                "version": 1,
            }
        )
    with db.session() as s:
        s.execute(insert(ComputeNode), nodes)
        s.execute(insert(ServiceRecord), services)


def run(
    n_hosts: int = 1000, n_requests: int = 1000, seed: int = 42, url: str | None = None
) -> dict[str, Any]:
    """Time `n_requests` single-instance select_destinations calls over `n_hosts`
    hosts; returns {"backend", "hosts", "requests", "placed", "no_valid_host",
    "seconds", "decisions_per_s", "p50_ms", "p99_ms", "first_call_ms", "consistent"}.
    `url`: an EMPTY database to use instead of a temp SQLite file (e.g. PostgreSQL)."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="sbx-sched-") as tmp:
        db = Database(url or f"sqlite:///{tmp}/stackbox.db")
        backend = db.backend
        try:
            migrate.upgrade(db.engine)
            populate(db, n_hosts, rng)
            cfg = config.load(env={})
            sched = SchedulerManager(cfg, db, rng=random.Random(seed))
            requests = [
                ({"flavor": rng.choice(FLAVORS), "image": {}, "project_id": "p"}, str(uuid.uuid4()))
                for _ in range(n_requests)
            ]
            lat: list[float] = []
            failed = 0
            t0 = time.perf_counter()
            for spec, consumer in requests:
                t = time.perf_counter()
                try:
                    sched.select_destinations(spec, [consumer])
                except NoValidHost:
                    failed += 1
                lat.append(time.perf_counter() - t)
            elapsed = time.perf_counter() - t0
            with db.session() as s:
                allocs = s.scalar(select(func.count()).select_from(Allocation))
                used = s.scalar(select(func.sum(ComputeNode.memory_mb_used)))
                alloc_mem = s.scalar(select(func.sum(Allocation.memory_mb)))
        finally:
            db.dispose()
    lat_sorted = sorted(lat)
    return {
        "backend": backend,
        "hosts": n_hosts,
        "requests": n_requests,
        "placed": n_requests - failed,
        "no_valid_host": failed,
        "seconds": round(elapsed, 3),
        "decisions_per_s": round(n_requests / elapsed, 1),
        "p50_ms": round(statistics.median(lat) * 1000, 2),
        "p99_ms": round(lat_sorted[int(len(lat_sorted) * 0.99) - 1] * 1000, 2),
        "first_call_ms": round(lat[0] * 1000, 2),
        "consistent": allocs == n_requests - failed and used == alloc_mem,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--url", help="an empty database URL (default: temp SQLite)")
    args = ap.parse_args()
    result = run(args.hosts, args.requests, url=args.url)
    print(json.dumps(result, indent=2))
    print(f"{result['decisions_per_s']} decisions/s (target >= 200)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
