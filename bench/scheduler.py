"""Scheduler decisions per second with all filters on vs the basic filters only.

Builds a migrated SQLite database (temp dir, as bench/scheduler_decisions.py does, whose
`populate` it reuses) with `n_hosts` compute nodes that each report a NUMA topology (2
cells of 8/16/32 CPUs with hyperthread siblings, half the memory each, 2 MiB huge pages
on half the hosts), 4 PCI NICs (8086:154d) on every fourth host, and host aggregates:
an availability zone "az2" (hosts 0-199), "ssd=true" metadata (hosts 200-399) and a
tenant-isolated one (hosts 900-999, filter_tenant_id=p-iso). Then times
`n_requests` single-instance SchedulerManager.select_destinations calls in three cases,
each on a fresh database:

- rich: the default `enabled_filters` (all of them) and a request mix that makes each
  filter work: plain flavors, hw:cpu_policy=dedicated + hw:numa_nodes=2,
  hw:mem_page_size=2MB, pci_passthrough:alias=nic:1, an unknown-to-hosts alias
  (gpu: always NoValidHost), availability zone az2, an aggregate extra spec, an
  anti-affinity server group with members already placed;
- all_plain: all filters, plain flavors only (what the rich filters cost when unused);
- basic: ComputeFilter,AvailabilityZoneFilter,ComputeCapabilitiesFilter,
  ImagePropertiesFilter,ResourceFilter with plain flavors.

After each run it checks the database: no host CPU pinned twice on a node, huge pages
within each cell's pool, no PCI device taken twice (and every allocated device recorded
by exactly one allocation), and each node's `*_used` equal to the sum of its
allocations. `ratio` is basic decisions/s over rich decisions/s (the rich filters' cost).

Run: `.venv/bin/python bench/scheduler.py [--hosts N] [--requests N]`.
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
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from scheduler_decisions import FLAVORS, populate  # noqa: E402
from sqlalchemy import bindparam, insert, select, update  # noqa: E402

from stackbox import config  # noqa: E402
from stackbox.compute.models import Allocation, ComputeNode  # noqa: E402
from stackbox.compute.opmodels import (  # noqa: E402
    Aggregate,
    AggregateHost,
    AggregateMetadata,
    PciDevice,
)
from stackbox.compute.zones import AZ_KEY  # noqa: E402
from stackbox.db import Database, migrate  # noqa: E402
from stackbox.db.base import utcnow  # noqa: E402
from stackbox.scheduler.manager import NoValidHost, SchedulerManager  # noqa: E402

BASIC_FILTERS = (
    "ComputeFilter,AvailabilityZoneFilter,ComputeCapabilitiesFilter,"
    "ImagePropertiesFilter,ResourceFilter"
)
NIC_ALIAS = '{"name": "nic", "vendor_id": "8086", "product_id": "154d"}'
GPU_ALIAS = '{"name": "gpu", "vendor_id": "10de", "product_id": "1eb8"}'  # no host has one
NICS_PER_HOST = 4
PAGES_2M_PER_CELL = 4096  # 8 GiB of 2 MiB pages per cell, on every other host


def topology(vcpus: int, memory_mb: int, pages_2m: int) -> dict[str, Any]:
    """2 cells of vcpus/2 CPUs as core pairs (siblings), half the memory each; the
    shape of compute_nodes.numa_topology (virt/numa.parse_capabilities)."""
    per_cell, mem = vcpus // 2, memory_mb // 2
    cells = []
    for c in range(2):
        cpus = list(range(c * per_cell, (c + 1) * per_cell))
        small = (mem - pages_2m * 2) * 256
        cells.append(
            {
                "id": c,
                "cpus": cpus,
                "siblings": [cpus[i : i + 2] for i in range(0, per_cell, 2)],
                "memory_mb": mem,
                "pages": [
                    {"size_kb": 4, "total": small, "free": small},
                    {"size_kb": 2048, "total": pages_2m, "free": pages_2m},
                ],
            }
        )
    return {"cells": cells}


def populate_rich(db: Database, n_hosts: int, rng: random.Random) -> dict[str, int]:
    """scheduler_decisions.populate, then NUMA topologies, PCI devices and aggregates."""
    populate(db, n_hosts, rng)
    now = utcnow()
    with db.session() as s:
        nodes = s.execute(
            select(ComputeNode.id, ComputeNode.host, ComputeNode.vcpus, ComputeNode.memory_mb)
        ).all()
        topo_rows, pci_rows = [], []
        for i, (node_id, _host, vcpus, mem) in enumerate(sorted(nodes)):
            pages = PAGES_2M_PER_CELL if i % 2 == 0 else 0
            topo_rows.append({"nid": node_id, "topo": topology(vcpus, mem, pages)})
            if i % 4 == 0:
                for d in range(NICS_PER_HOST):
                    pci_rows.append(
                        {
                            "compute_node_id": node_id,
                            "address": f"0000:3b:00.{d}",
                            "vendor_id": "8086",
                            "product_id": "154d",
                            "dev_type": "type-PCI",
                            "numa_node": d % 2,
                            "status": "available",
                        }
                    )
        s.connection().execute(
            update(ComputeNode.__table__)
            .where(ComputeNode.__table__.c.id == bindparam("nid"))
            .values(numa_topology=bindparam("topo")),
            topo_rows,
        )
        if pci_rows:
            s.execute(insert(PciDevice), pci_rows)
        hosts = [h for _, h, _, _ in sorted(nodes)]
        aggs = [
            ("az2", {AZ_KEY: "az2"}, hosts[: n_hosts // 5]),
            ("ssd", {"ssd": "true"}, hosts[n_hosts // 5 : 2 * n_hosts // 5]),
            ("isolated", {"filter_tenant_id": "p-iso"}, hosts[9 * n_hosts // 10 :]),
        ]
        for name, meta, members in aggs:
            agg_id = s.execute(
                insert(Aggregate)
                .values(uuid=str(uuid.uuid4()), name=name, created_at=now)
                .returning(Aggregate.id)
            ).scalar_one()
            s.execute(
                insert(AggregateMetadata),
                [{"aggregate_id": agg_id, "key": k, "value": v} for k, v in meta.items()],
            )
            if members:
                s.execute(
                    insert(AggregateHost), [{"aggregate_id": agg_id, "host": h} for h in members]
                )
    return {"nodes": len(nodes), "pci_devices": len(pci_rows), "aggregates": len(aggs)}


def plain_request(rng: random.Random) -> tuple[str, dict[str, Any]]:
    return "plain", {"flavor": rng.choice(FLAVORS), "image": {}, "project_id": "p"}


def rich_request(rng: random.Random, hosts: list[str]) -> tuple[str, dict[str, Any]]:
    """One request of the mix; returns (kind, request_spec)."""
    r = rng.random()

    def flavor(vcpus: int, mem: int, **extra: str) -> dict[str, Any]:
        return {"vcpus": vcpus, "memory_mb": mem, "root_gb": 20, "extra_specs": extra}

    spec: dict[str, Any] = {"image": {}, "project_id": "p"}
    if r < 0.35:
        return plain_request(rng)
    if r < 0.55:
        kind = "dedicated_numa2"
        spec["flavor"] = flavor(4, 4096, **{"hw:cpu_policy": "dedicated", "hw:numa_nodes": "2"})
    elif r < 0.70:
        kind = "hugepages_2m"
        spec["flavor"] = flavor(2, 2048, **{"hw:mem_page_size": "2MB"})
    elif r < 0.80:
        kind = "pci_nic"
        spec["flavor"] = flavor(2, 2048, **{"pci_passthrough:alias": "nic:1"})
    elif r < 0.82:
        kind = "pci_gpu_absent"
        spec["flavor"] = flavor(2, 2048, **{"pci_passthrough:alias": "gpu:1"})
    elif r < 0.87:
        kind = "az2"
        spec["flavor"] = rng.choice(FLAVORS)
        spec["availability_zone"] = "az2"
    elif r < 0.92:
        kind = "aggregate_ssd"
        spec["flavor"] = flavor(2, 4096, **{"aggregate_instance_extra_specs:ssd": "true"})
    elif r < 0.97:
        kind = "anti_affinity"
        spec["flavor"] = rng.choice(FLAVORS)
        spec["group"] = {
            "uuid": str(uuid.uuid4()),
            "policy": "anti-affinity",
            "rules": {},
            "hosts": rng.sample(hosts, 5),
        }
    else:
        kind = "dedicated_isolate"
        spec["flavor"] = flavor(
            2, 2048, **{"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "isolate"}
        )
    return kind, spec


def check(db: Database) -> dict[str, Any]:
    """Consistency of the claims in the database (see the module docstring)."""
    problems: list[str] = []
    with db.session() as s:
        nodes = {
            r.id: r
            for r in s.execute(
                select(
                    ComputeNode.id,
                    ComputeNode.vcpus_used,
                    ComputeNode.memory_mb_used,
                    ComputeNode.local_gb_used,
                    ComputeNode.numa_topology,
                )
            )
        }
        allocs = s.execute(
            select(
                Allocation.consumer_id,
                Allocation.compute_node_id,
                Allocation.vcpus,
                Allocation.memory_mb,
                Allocation.disk_gb,
                Allocation.details,
            )
        ).all()
        devices = s.execute(
            select(
                PciDevice.compute_node_id,
                PciDevice.address,
                PciDevice.status,
                PciDevice.instance_uuid,
            )
        ).all()
    sums: dict[int, list[int]] = {}
    pinned: dict[int, Counter[int]] = {}
    pages: dict[tuple[int, int], int] = {}
    recorded: Counter[tuple[int, str]] = Counter()
    owner: dict[tuple[int, str], str] = {}
    n_pinned = 0
    for a in allocs:
        tot = sums.setdefault(a.compute_node_id, [0, 0, 0])
        tot[0] += a.vcpus
        tot[1] += a.memory_mb
        tot[2] += a.disk_gb
        d = a.details or {}
        for cell in d.get("cells") or []:
            cpus = [*(cell.get("cpus") or []), *(cell.get("reserved") or [])]
            pinned.setdefault(a.compute_node_id, Counter()).update(cpus)
            n_pinned += len(cell.get("cpus") or [])
            size = int(cell.get("page_size_kb") or 4)
            if size == 2048:
                key = (a.compute_node_id, int(cell["id"]))
                pages[key] = pages.get(key, 0) + int(cell["memory_mb"]) // 2
        for dev in d.get("pci") or []:
            recorded[(a.compute_node_id, dev["address"])] += 1
            owner[(a.compute_node_id, dev["address"])] = a.consumer_id
    for node_id, row in nodes.items():
        want = sums.get(node_id, [0, 0, 0])
        if [row.vcpus_used, row.memory_mb_used, row.local_gb_used] != want:
            problems.append(f"node {node_id}: used {row[1:4]} != allocations {want}")
        twice = [c for c, n in pinned.get(node_id, Counter()).items() if n > 1]
        if twice:
            problems.append(f"node {node_id}: host CPUs pinned twice {sorted(twice)}")
        for cell in (row.numa_topology or {}).get("cells") or []:
            pool = [p for p in cell["pages"] if p["size_kb"] == 2048]
            taken = pages.get((node_id, cell["id"]), 0)
            if taken > (pool[0]["total"] if pool else 0):
                problems.append(f"node {node_id} cell {cell['id']}: {taken} 2M pages taken")
    allocated = {(d.compute_node_id, d.address): d.instance_uuid for d in devices
                 if d.status == "allocated"}  # fmt: skip
    for key, n in recorded.items():
        if n > 1:
            problems.append(f"PCI device {key} recorded by {n} allocations")
        if allocated.get(key) != owner[key]:
            problems.append(
                f"PCI device {key}: allocated to {allocated.get(key)}, not {owner[key]}"
            )
    for key in set(allocated) - set(recorded):
        problems.append(f"PCI device {key} allocated but in no allocation's details")
    return {
        "consistent": not problems,
        "problems": problems[:10],
        "allocations": len(allocs),
        "pinned_cpus": n_pinned,
        "huge_pages_2m_taken": sum(pages.values()),
        "pci_allocated": len(allocated),
    }


def run_case(
    name: str, filters: str | None, rich: bool, n_hosts: int, n_requests: int, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="sbx-sched-") as tmp:
        db = Database(f"sqlite:///{tmp}/stackbox.db")
        try:
            migrate.upgrade(db.engine)
            inventory = populate_rich(db, n_hosts, rng)
            overrides: dict[tuple[str, str], Any] = {("pci", "alias"): [NIC_ALIAS, GPU_ALIAS]}
            if filters is not None:
                overrides[("scheduler", "enabled_filters")] = filters
            cfg = config.load(env={}, overrides=overrides)
            sched = SchedulerManager(cfg, db, rng=random.Random(seed))
            hosts = [f"cmp{i:05d}" for i in range(n_hosts)]
            requests = [
                rich_request(rng, hosts) if rich else plain_request(rng) for _ in range(n_requests)
            ]
            lat: list[float] = []
            by_kind_lat: dict[str, list[float]] = {}
            placed: Counter[str] = Counter()
            failed: Counter[str] = Counter()
            t0 = time.perf_counter()
            for kind, spec in requests:
                t = time.perf_counter()
                try:
                    sched.select_destinations(spec, [str(uuid.uuid4())])
                    placed[kind] += 1
                except NoValidHost:
                    failed[kind] += 1
                lat.append(time.perf_counter() - t)
                by_kind_lat.setdefault(kind, []).append(lat[-1])
            elapsed = time.perf_counter() - t0
            consistency = check(db)
        finally:
            db.dispose()
    lat_sorted = sorted(lat)
    return {
        "case": name,
        "filters": len(sched.filters),
        "hosts": n_hosts,
        "inventory": inventory,
        "requests": n_requests,
        "placed": sum(placed.values()),
        "no_valid_host": sum(failed.values()),
        "by_kind": {  # kind: placed, no valid host, median latency
            k: {
                "placed": placed[k],
                "no_valid_host": failed[k],
                "p50_ms": round(statistics.median(v) * 1000, 2),
            }
            for k, v in sorted(by_kind_lat.items())
        },
        "seconds": round(elapsed, 3),
        "decisions_per_s": round(n_requests / elapsed, 1),
        "p50_ms": round(statistics.median(lat) * 1000, 2),
        "p99_ms": round(lat_sorted[max(int(len(lat_sorted) * 0.99) - 1, 0)] * 1000, 2),
        "first_call_ms": round(lat[0] * 1000, 2),
        **consistency,
    }


def run(n_hosts: int = 1000, n_requests: int = 1000, seed: int = 42) -> dict[str, Any]:
    rich = run_case("rich", None, True, n_hosts, n_requests, seed)
    all_plain = run_case("all_plain", None, False, n_hosts, n_requests, seed)
    basic = run_case("basic", BASIC_FILTERS, False, n_hosts, n_requests, seed)
    return {
        "rich": rich,
        "all_plain": all_plain,
        "basic": basic,
        "ratio_basic_over_rich": round(basic["decisions_per_s"] / rich["decisions_per_s"], 2),
        "ratio_basic_over_all_plain": round(
            basic["decisions_per_s"] / all_plain["decisions_per_s"], 2
        ),
        "consistent": rich["consistent"] and all_plain["consistent"] and basic["consistent"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    res = run(args.hosts, args.requests, args.seed)
    print(json.dumps(res, indent=2))
    r, a, b = res["rich"], res["all_plain"], res["basic"]
    print(
        f"all filters, rich mix: {r['decisions_per_s']} decisions/s "
        f"(p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms); all filters, plain: "
        f"{a['decisions_per_s']}/s; basic filters: {b['decisions_per_s']}/s "
        f"(p50 {b['p50_ms']} ms); basic/rich = {res['ratio_basic_over_rich']}x; "
        f"consistent={res['consistent']}"
    )
    return 0 if res["consistent"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
