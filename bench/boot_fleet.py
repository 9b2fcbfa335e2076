"""Part (c) of bench/boot.py: 200 concurrent creates over 50 compute services, one process.

Everything runs in this process on one event loop, wired as `stackbox up` wires it
(stackbox/allinone.py) but with 50 compute hosts: a migrated SQLite database in a temp
state dir with identity bootstrapped and the default flavors, the local bus, a
ConductorManager, a SchedulerManager and 50 ComputeManagers served as "bench-c00" ..
"bench-c49", each with its heartbeat Service. The hosts share one LibvirtDriver on
`test:///default` (libvirt's test driver is per process anyway; domain names
instance-%08x are unique) and one image cache directory. The API app (build_app) is
driven through httpx.ASGITransport: an image is uploaded, a tiny flavor created, then
`n` POST /servers are sent at once; the clock stops when no server is BUILD any more.

Afterwards the compute_nodes and allocations tables are checked: on every node
used <= (total - reserved) * ratio for vCPU, RAM and disk, and *_used equals the sum of
its allocations; the spread is min/max servers per host.

Run alone: `.venv/bin/python bench/boot_fleet.py [--servers N] [--hosts N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from stackbox import bus as sbbus  # noqa: E402
from stackbox import config as sbconfig  # noqa: E402
from stackbox.api.app import build_app  # noqa: E402
from stackbox.api.server import make_state, prepare_database  # noqa: E402
from stackbox.compute.bootstrap import ensure_default_flavors  # noqa: E402
from stackbox.compute.imagecache import FileImageSource, ImageCache  # noqa: E402
from stackbox.compute.imageupload import ImageUploader  # noqa: E402
from stackbox.compute.manager import ComputeManager, instances_path  # noqa: E402
from stackbox.compute.models import Allocation, ComputeNode, Instance  # noqa: E402
from stackbox.compute.rpcapi import ConductorAPI  # noqa: E402
from stackbox.conductor.manager import ConductorManager  # noqa: E402
from stackbox.identity.bootstrap import bootstrap  # noqa: E402
from stackbox.scheduler.manager import SchedulerManager  # noqa: E402
from stackbox.service.runner import Service  # noqa: E402
from stackbox.virt import select as vselect  # noqa: E402
from stackbox.virt.libvirt_driver import LibvirtDriver  # noqa: E402

URI = "test:///default"
API = "/compute/v2.1"


async def _token(client: httpx.AsyncClient, password: str) -> str:
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
    r = await client.post("/identity/v3/auth/tokens", json=body)
    r.raise_for_status()
    return str(r.headers["X-Subject-Token"])


async def _image(client: httpx.AsyncClient, auth: dict[str, str], tmp: Path) -> str:
    """A small qcow2 (64 MiB virtual) uploaded through the Image API."""
    path = tmp / "fleet.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)
    body = {
        "name": "fleet",
        "disk_format": "qcow2",
        "container_format": "bare",
        "visibility": "public",
    }
    r = await client.post("/image/v2/images", json=body, headers=auth)
    r.raise_for_status()
    image_id = str(r.json()["id"])
    r = await client.put(
        f"/image/v2/images/{image_id}/file",
        content=path.read_bytes(),
        headers={**auth, "Content-Type": "application/octet-stream"},
    )
    r.raise_for_status()
    return image_id


def _check(db: Any) -> dict[str, Any]:
    """Per node: used <= (total - reserved) * ratio and used == sum(allocations)."""
    rows: list[dict[str, Any]] = []
    over, drift = [], []
    with db.session() as s:
        sums = {
            node_id: (v, m, d)
            for node_id, v, m, d in s.execute(
                select(
                    Allocation.compute_node_id,
                    func.sum(Allocation.vcpus),
                    func.sum(Allocation.memory_mb),
                    func.sum(Allocation.disk_gb),
                ).group_by(Allocation.compute_node_id)
            )
        }
        per_host = dict(
            s.execute(
                select(Instance.host, func.count())
                .where(Instance.deleted == 0, Instance.host.is_not(None))  # type: ignore[attr-defined]
                .group_by(Instance.host)
            ).all()
        )
        for n in s.scalars(select(ComputeNode).order_by(ComputeNode.host)):
            cap_v = (n.vcpus - n.reserved_host_cpus) * n.cpu_allocation_ratio
            cap_m = (n.memory_mb - n.reserved_host_memory_mb) * n.ram_allocation_ratio
            cap_d = (n.local_gb - n.reserved_host_disk_mb / 1024) * n.disk_allocation_ratio
            used = (n.vcpus_used, n.memory_mb_used, n.local_gb_used)
            alloc = tuple(int(x or 0) for x in sums.get(n.id, (0, 0, 0)))
            row = {
                "host": n.host,
                "servers": per_host.get(n.host, 0),
                "vcpus": f"{n.vcpus_used}/{cap_v:g}",
                "ram_mb": f"{n.memory_mb_used}/{cap_m:g}",
                "disk_gb": f"{n.local_gb_used}/{cap_d:g}",
                "alloc": alloc,
            }
            rows.append(row)
            if used[0] > cap_v or used[1] > cap_m or used[2] > cap_d:
                over.append(n.host)
            if used != alloc:
                drift.append((n.host, used, alloc))
    counts = [r["servers"] for r in rows if r["host"].startswith("bench-c")]
    return {
        "nodes": rows,
        "over_ratio_hosts": over,
        "used_ne_allocations": drift,
        "servers_per_host_min": min(counts) if counts else 0,
        "servers_per_host_max": max(counts) if counts else 0,
    }


async def _run(n_servers: int, n_hosts: int, tmp: Path, verbose: bool) -> dict[str, Any]:
    env = {
        "STACKBOX_DEFAULT__STATE_DIR": str(tmp / "state"),
        "STACKBOX_DEFAULT__HOST": "bench-ctl",
        "STACKBOX_IDENTITY__PASSWORD_HASH_MEMORY_KIB": "8192",
        "STACKBOX_IDENTITY__PASSWORD_HASH_TIME_COST": "1",
        "STACKBOX_COMPUTE__VIRT_URI": URI,
        # a load test, not a quota test: no instance/core/RAM limit
        "STACKBOX_QUOTA__INSTANCES": "-1",
        "STACKBOX_QUOTA__CORES": "-1",
        "STACKBOX_QUOTA__RAM": "-1",
        "STACKBOX_API__PORT": "18081",
    }
    cfg = sbconfig.load(env=env)
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    db = await asyncio.to_thread(prepare_database, cfg)
    state = make_state(cfg, db)
    app = build_app(state)
    with db.session() as s:
        creds = await asyncio.to_thread(bootstrap, s, cfg)
        await asyncio.to_thread(ensure_default_flavors, s)
    bus = sbbus.connect("local://", default_timeout=cfg.get("transport", "rpc_timeout"))
    await bus.start()
    state.bus = bus
    services: list[Service] = []
    managers: list[ComputeManager] = []
    ipath = instances_path(cfg)
    driver = LibvirtDriver(
        URI, vselect.guest_host_config(cfg, URI), ipath, cfg.get("compute", "shutdown_timeout")
    )
    images = ImageCache(ipath / "_base", FileImageSource(cfg.state_dir / "images"))
    try:
        conductor = ConductorManager(db, "bench-ctl", bus=bus, identity=state.identity)
        for binary, topic, manager in (
            ("stackbox-api", "api", None),
            ("stackbox-conductor", "conductor", conductor),
            ("stackbox-scheduler", "scheduler", SchedulerManager(cfg, db)),
        ):
            svc = Service(cfg, bus, db=db, binary=binary, topic=topic, host="bench-ctl")
            svc.manager = manager
            await svc.start()
            services.append(svc)
        cm_tokens = ConductorAPI(bus).service_token
        for i in range(n_hosts):
            host = f"bench-c{i:02d}"
            uploader = ImageUploader(cfg.public_url + "/image", cm_tokens)
            cm = ComputeManager(cfg, bus, driver, host, images, uploader)
            svc = Service(
                cfg, bus, db=db, binary="stackbox-compute", topic="compute", host=host, manager=cm
            )
            await svc.start()
            services.append(svc)
            await cm.start()
            managers.append(cm)

        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(
            transport=transport, base_url=cfg.public_url, timeout=120
        ) as client:
            auth = {"X-Auth-Token": await _token(client, creds.admin_password)}
            image_id = await _image(client, auth, tmp)
            r = await client.post(
                f"{API}/flavors",
                json={"flavor": {"name": "bench.nano", "ram": 64, "vcpus": 1, "disk": 1}},
                headers=auth,
            )
            r.raise_for_status()
            flavor = r.json()["flavor"]["id"]

            async def post(i: int) -> str:
                body = {
                    "server": {
                        "name": f"fleet-{i:03d}",
                        "imageRef": image_id,
                        "flavorRef": flavor,
                        "networks": "none",
                    }
                }
                resp = await client.post(
                    f"{API}/servers",
                    json=body,
                    headers={**auth, "OpenStack-API-Version": "compute 2.37"},
                )
                if resp.status_code != 202:
                    raise RuntimeError(f"POST /servers: {resp.status_code} {resp.text}")
                return str(resp.json()["server"]["id"])

            t0 = time.perf_counter()
            ids = await asyncio.gather(*(post(i) for i in range(n_servers)))
            posted = time.perf_counter() - t0

            def states() -> dict[str, int]:
                with db.session() as s:
                    return dict(
                        s.execute(
                            select(Instance.vm_state, func.count())
                            .where(Instance.uuid.in_(ids))
                            .group_by(Instance.vm_state)
                        ).all()
                    )

            deadline = t0 + 600
            while True:
                counts = await asyncio.to_thread(states)
                if not counts.get("building") or time.perf_counter() > deadline:
                    break
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - t0
            # The user's view: the same answer from the API.
            r = await client.get(f"{API}/servers/detail?limit=1000", headers=auth)
            r.raise_for_status()
            api_status: dict[str, int] = {}
            for srv in r.json()["servers"]:
                if srv["id"] in ids:
                    api_status[srv["status"]] = api_status.get(srv["status"], 0) + 1
        check = await asyncio.to_thread(_check, db)
        if verbose:
            for row in check["nodes"]:
                print("   ", json.dumps(row))
        active = api_status.get("ACTIVE", 0)
        return {
            "servers": n_servers,
            "hosts": n_hosts,
            "all_posted_s": round(posted, 3),
            "all_done_s": round(elapsed, 3),
            "servers_per_s": round(active / elapsed, 1),
            "api_status": api_status,
            "db_vm_states": counts,
            "servers_per_host_min": check["servers_per_host_min"],
            "servers_per_host_max": check["servers_per_host_max"],
            "over_ratio_hosts": check["over_ratio_hosts"],
            "used_ne_allocations": check["used_ne_allocations"],
            "example_node": check["nodes"][0] if check["nodes"] else None,
        }
    finally:
        for cm in managers:
            await cm.stop()
        for svc in reversed(services):
            await svc.stop()
        await bus.stop()
        # test:///default lives in this process: nothing outlives it, but tidy up anyway
        await asyncio.to_thread(_destroy_all, driver)
        db.dispose()


def _destroy_all(driver: LibvirtDriver) -> None:
    """The bench cloud's guests (the driver sees no other)."""
    for guest in driver.list_guests():
        driver.destroy(guest.uuid)


def run(n_servers: int = 200, n_hosts: int = 50, verbose: bool = False) -> dict[str, Any]:
    """Part (c); returns the figures."""
    logging.getLogger("stackbox").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="sbx-fleet-") as tmp:
        return asyncio.run(_run(n_servers, n_hosts, Path(tmp), verbose))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--servers", type=int, default=200)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("-v", "--verbose", action="store_true", help="print every node")
    args = ap.parse_args()
    print(json.dumps(run(args.servers, args.hosts, args.verbose), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
