"""Claims of pinned CPUs, huge pages and PCI devices (claims.claim_placement) and their
use by SchedulerManager, on SQLite and PostgreSQL: no two dedicated guests ever share a
host CPU, even when many schedulers race for one node; devices are taken once and
given back on release."""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, insert, select

from stackbox import config
from stackbox.compute import pci
from stackbox.compute.models import Allocation, ComputeNode
from stackbox.compute.opmodels import PciDevice
from stackbox.db import Database
from stackbox.scheduler import claims
from stackbox.scheduler.manager import NoValidHost, SchedulerManager
from stackbox.virt import config as vconfig
from stackbox.virt import numa
from tests.scheduler.util import add_node
from tests.virt.test_numa import host as topology

ALL_FILTERS = "ComputeFilter,ResourceFilter,NUMATopologyFilter,PciPassthroughFilter"
GPU_ALIAS = '{"name": "gpu", "vendor_id": "10de", "product_id": "1eb8"}'


@pytest.fixture
def pdb(db: Database) -> Iterator[Database]:
    with db.session() as s:
        s.execute(delete(PciDevice))
    yield db
    with db.session() as s:
        s.execute(delete(PciDevice))


def manager(db: Database) -> SchedulerManager:
    cfg = config.load(
        env={},
        overrides={("scheduler", "enabled_filters"): ALL_FILTERS, ("pci", "alias"): [GPU_ALIAS]},
    )
    return SchedulerManager(cfg, db, rng=random.Random(0))


def dedicated(vcpus: int = 2, **extra: str) -> dict[str, Any]:
    specs = {"hw:cpu_policy": "dedicated", **extra}
    flavor = {"vcpus": vcpus, "memory_mb": 512, "root_gb": 1, "extra_specs": specs}
    return {"flavor": flavor, "image": {}}


def pinned_cpus(db: Database, node_id: int) -> list[int]:
    with db.session() as s:
        rows = s.scalars(select(Allocation.details).where(Allocation.compute_node_id == node_id))
        return [c for d in rows for cell in (d or {}).get("cells", []) for c in cell["cpus"]]


def add_gpus(db: Database, node_id: int, n: int) -> None:
    with db.session() as s:
        for i in range(n):
            s.execute(
                insert(PciDevice).values(
                    compute_node_id=node_id,
                    address=f"0000:81:0{i}.0",
                    vendor_id="10de",
                    product_id="1eb8",
                    dev_type="type-PCI",
                    status="available",
                )
            )


def test_scheduler_pins_distinct_cpus_and_says_no_when_full(pdb: Database) -> None:
    nid = add_node(pdb, "numa1", vcpus=8, numa_topology=topology(cells=2, cores=4))
    sched = manager(pdb)
    dests = sched.select_destinations(dedicated(2), ["a", "b", "c", "d"])
    assert {d["host"] for d in dests} == {"numa1"}
    pins = pinned_cpus(pdb, nid)
    assert sorted(pins) == list(range(8))
    with pytest.raises(NoValidHost):
        sched.select_destinations(dedicated(2), ["e"])
    with pdb.session() as s:  # the refused guest left nothing behind
        assert s.scalar(select(ComputeNode.vcpus_used).where(ComputeNode.id == nid)) == 8
        claims.release(s, "b")
    dest = sched.select_destinations(dedicated(2), ["e"])  # b's CPUs are free again
    assert dest[0]["host"] == "numa1"
    assert sorted(pinned_cpus(pdb, nid)) == list(range(8))


def test_many_schedulers_racing_never_share_a_pcpu(pdb: Database) -> None:
    nid = add_node(pdb, "race", vcpus=16, numa_topology=topology(cells=2, cores=8))
    n_threads, per_thread = 8, 3  # 24 guests of 1 pCPU for 16 pCPUs
    won: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n_threads)

    def worker(t: int) -> None:
        sched = manager(pdb)  # one scheduler per thread: each has its own stale view
        barrier.wait()
        for i in range(per_thread):
            try:
                sched.select_destinations(dedicated(1), [f"g-{t}-{i}"])
                with lock:
                    won.append(f"g-{t}-{i}")
            except NoValidHost:
                pass
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    pins = pinned_cpus(pdb, nid)
    assert len(pins) == len(set(pins)) == len(won)
    assert len(won) == 16  # every pCPU was handed out, once


def test_direct_concurrent_claims_never_share_a_pcpu(pdb: Database) -> None:
    nid = add_node(pdb, "direct", vcpus=8, numa_topology=topology(cells=1, cores=8))
    req = numa.parse_request(1, 256, {"hw:cpu_policy": "dedicated"}, {})
    won: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(12)

    def worker(t: int) -> None:
        barrier.wait()
        try:
            with pdb.session() as s:
                ok = claims.claim(s, nid, f"c{t}", 1, 256, 1)
                if ok and claims.claim_placement(s, nid, f"c{t}", req) is None:
                    s.rollback()
                    ok = False
            if ok:
                won.append(f"c{t}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    pins = pinned_cpus(pdb, nid)
    assert len(won) == 8 and sorted(pins) == list(range(8))


def test_huge_pages_are_claimed_against_the_hosts_free_pages(pdb: Database) -> None:
    nid = add_node(pdb, "pages", vcpus=8, numa_topology=topology(cells=1, pages_2m=512))
    sched = manager(pdb)
    flavor = {
        "vcpus": 1,
        "memory_mb": 512,
        "root_gb": 1,
        "extra_specs": {"hw:mem_page_size": "2048"},
    }
    sched.select_destinations({"flavor": flavor}, ["p1", "p2"])  # 2 x 256 pages = 512
    with pytest.raises(NoValidHost):
        sched.select_destinations({"flavor": flavor}, ["p3"])
    with pdb.session() as s:
        d = s.scalar(select(Allocation.details).where(Allocation.consumer_id == "p1"))
    assert d is not None and d["cells"][0]["page_size_kb"] == 2048 and nid


def test_pci_devices_are_taken_once_and_freed_on_release(pdb: Database) -> None:
    nid = add_node(pdb, "gpuhost", vcpus=8)
    add_node(pdb, "plain", vcpus=8)
    add_gpus(pdb, nid, 2)
    sched = manager(pdb)
    spec = {
        "flavor": {
            "vcpus": 1,
            "memory_mb": 256,
            "root_gb": 1,
            "extra_specs": {"pci_passthrough:alias": "gpu:1"},
        }
    }
    dests = sched.select_destinations(spec, ["v1", "v2"])
    assert [d["host"] for d in dests] == ["gpuhost", "gpuhost"]
    with pdb.session() as s:
        rows = s.execute(select(PciDevice.status, PciDevice.instance_uuid)).all()
        assert sorted(rows) == [("allocated", "v1"), ("allocated", "v2")]
        d = s.scalar(select(Allocation.details).where(Allocation.consumer_id == "v1"))
        assert d is not None and d["pci"][0]["address"].startswith("0000:81:")
    with pytest.raises(NoValidHost):
        sched.select_destinations(spec, ["v3"])
    with pdb.session() as s:
        claims.release(s, "v1")
        assert s.scalar(select(PciDevice.status).where(PciDevice.instance_uuid == "v2"))
        free = s.scalars(select(PciDevice.status).where(PciDevice.status == "available")).all()
        assert len(free) == 1
    assert sched.select_destinations(spec, ["v3"])[0]["host"] == "gpuhost"


def test_a_resize_keeps_each_sides_pci_devices_apart(pdb: Database) -> None:
    """During a resize an instance holds devices under two allocations: revert frees
    only the new side's, confirm only the old side's."""
    nid = add_node(pdb, "gpus4", vcpus=8)
    add_gpus(pdb, nid, 4)
    alias = pci.parse_aliases([GPU_ALIAS])["gpu"]

    def held() -> list[str]:
        with pdb.session() as s:
            rows = s.scalars(select(PciDevice.address).where(PciDevice.instance_uuid == "r1"))
            return sorted(rows)

    def resize_to(n: int) -> None:
        with pdb.session() as s:
            claims.move(s, "r1", "migration:r1")
            assert claims.claim(s, nid, "r1", 1, 256, 1)
            assert claims.claim_placement(s, nid, "r1", None, [(alias, n)]) is not None

    with pdb.session() as s:
        assert claims.claim(s, nid, "r1", 1, 256, 1)
        assert claims.claim_placement(s, nid, "r1", None, [(alias, 1)]) is not None
    old = held()
    resize_to(2)
    assert len(held()) == 3
    with pdb.session() as s:  # revert: the new side goes, the old one comes back
        claims.release(s, "r1")
        claims.move(s, "migration:r1", "r1")
    assert held() == old
    resize_to(2)
    with pdb.session() as s:  # confirm: the old side goes
        claims.release(s, "migration:r1")
    assert len(held()) == 2 and not set(held()) & set(old)
    with pdb.session() as s:
        claims.release(s, "r1")
    assert held() == []


def test_failed_pci_claim_rolls_back(pdb: Database) -> None:
    nid = add_node(pdb, "one-gpu", vcpus=8)
    add_gpus(pdb, nid, 1)
    alias = pci.parse_aliases([GPU_ALIAS])["gpu"]
    with pdb.session() as s:
        assert claims.claim(s, nid, "x", 1, 256, 1)
        assert claims.claim_placement(s, nid, "x", None, [(alias, 2)]) is None
        s.rollback()
    with pdb.session() as s:
        assert s.scalar(select(ComputeNode.vcpus_used).where(ComputeNode.id == nid)) == 0
        assert s.scalar(select(PciDevice.status)) == "available"


def test_host_report_stores_numa_cells_and_whitelisted_pci_devices(
    pdb: Database, tmp_path: Any
) -> None:
    from stackbox.compute.manager import placement_report
    from stackbox.conductor import instances as db_instances
    from stackbox.virt import select as vselect
    from stackbox.virt.libvirt_driver import LibvirtDriver
    from tests.compute.test_pci import GPU, NODEDEV

    uri = "test:///default"
    drv = LibvirtDriver(uri, vselect.guest_host_config(config.load(env={}), uri), tmp_path, 2)
    try:
        res = drv.host_resources()
    finally:
        drv.host.close()
    assert [len(c["cpus"]) for c in res.numa_topology["cells"]] == [8, 8]
    # the test driver lists no node devices: inject two, whitelist the GPU only
    injected = [pci.parse_node_device(x) for x in (GPU, NODEDEV)]
    res = dataclasses.replace(res, pci_devices=[d for d in injected if d is not None])
    cfg = config.load(
        env={},
        overrides={
            ("pci", "passthrough_whitelist"): ['{"vendor_id": "10de", "product_id": "1eb8"}']
        },
    )
    report = {
        "hypervisor_hostname": "rep",
        "vcpus": res.vcpus,
        "memory_mb": res.memory_mb,
        "local_gb": 10,
        **placement_report(cfg, res),
    }
    with pdb.session() as s:
        db_instances.compute_node_update(s, "rep", report)
    with pdb.session() as s:
        node = s.scalar(select(ComputeNode).where(ComputeNode.host == "rep"))
        assert node is not None and len(node.numa_topology["cells"]) == 2
        devs = s.execute(select(PciDevice.address, PciDevice.status)).all()
        assert devs == [("0000:81:00.0", "available")]
    report["pci_devices"] = []  # the device vanished from the host: its row goes
    with pdb.session() as s:
        db_instances.compute_node_update(s, "rep", report)
        assert s.scalars(select(PciDevice.address)).all() == []


def test_placement_reaches_the_instance_and_its_domain_xml(pdb: Database, tmp_path: Any) -> None:
    from stackbox.compute import payload, states
    from stackbox.conductor import instances as db_instances
    from stackbox.conductor.build import _assign_host
    from stackbox.virt.designer import GuestHostConfig, build_domain
    from tests.conductor.test_instances import make_instance
    from tests.virt.test_designer import _boot

    nid = add_node(pdb, "xmlhost", vcpus=8, numa_topology=topology(cells=2, cores=4))
    add_gpus(pdb, nid, 1)
    flavor = {
        "flavorid": "p1",
        "name": "pinned",
        "vcpus": 2,
        "memory_mb": 512,
        "root_gb": 1,
        "ephemeral_gb": 0,
        "swap": 0,
        "extra_specs": {"hw:cpu_policy": "dedicated", "pci_passthrough:alias": "gpu:1"},
    }
    uuid = make_instance(pdb, flavor=flavor, task_state=states.SCHEDULING, host=None)
    dest = manager(pdb).select_destinations({"flavor": flavor}, [uuid])[0]
    with pdb.session() as s:
        inst = _assign_host(s, uuid, dest)
    assert inst is not None
    cells = inst["numa_topology"]["cells"]
    assert [c["cpus"] for c in cells] == [[0, 1]]
    spec = payload.instance_spec(inst)
    dom = build_domain(spec, _boot(tmp_path), GuestHostConfig(virt_type="kvm"))
    assert dom.cputune is not None
    assert [(p.vcpu, p.cpuset) for p in dom.cputune.vcpupins] == [(0, "0"), (1, "1")]
    assert dom.devices.hostdevs == [vconfig.HostDevPCI("0000:81:00.0")]
    with pdb.session() as s:  # deleting the guest gives its device and CPUs back
        db_instances.instance_destroyed(s, uuid)
    with pdb.session() as s:
        assert s.scalar(select(PciDevice.status)) == "available"
    assert pinned_cpus(pdb, nid) == []
