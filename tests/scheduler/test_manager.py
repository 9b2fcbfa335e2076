"""SchedulerManager.select_destinations against a real database (SQLite and
PostgreSQL): spreading, NoValidHost without leftovers, services, zones, images,
forced and ignored hosts, lost races and cache freshness."""

from __future__ import annotations

import datetime as dt
import random
import threading
from typing import Any

import pytest
from sqlalchemy import select, update

from stackbox import config
from stackbox.compute.models import Allocation, ComputeNode
from stackbox.db import Database
from stackbox.db.base import utcnow
from stackbox.scheduler import claims
from stackbox.scheduler.manager import NoValidHost, SchedulerManager
from stackbox.service.models import ServiceRecord
from tests.scheduler.util import add_node

SMALL = {"vcpus": 1, "memory_mb": 1024, "root_gb": 10, "ephemeral_gb": 0, "swap": 0}


def manager(db: Database, **overrides: Any) -> SchedulerManager:
    cfg = config.load(env={}, overrides={("scheduler", k): v for k, v in overrides.items()})
    return SchedulerManager(cfg, db, rng=random.Random(0))


def request(flavor: dict | None = None, **kw: Any) -> dict:
    spec: dict = {"flavor": flavor or SMALL, "image": {}, "availability_zone": None}
    spec.update(kw)
    return spec


def allocations(db: Database) -> list[tuple[str, int]]:
    with db.session() as s:
        rows = s.execute(select(Allocation.consumer_id, Allocation.compute_node_id)).all()
    return sorted((r[0], r[1]) for r in rows)


def used(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {n.host: n.memory_mb_used for n in s.scalars(select(ComputeNode))}


def test_three_instances_spread_over_three_hosts(db: Database) -> None:
    ids = {add_node(db, h): h for h in ("a", "b", "c")}
    dests = manager(db).select_destinations(request(), ["i1", "i2", "i3"])
    assert sorted(d["host"] for d in dests) == ["a", "b", "c"]
    for d in dests:
        assert ids[d["compute_node_id"]] == d["host"] == d["node"]
    assert allocations(db) == sorted(
        (u, d["compute_node_id"]) for u, d in zip(["i1", "i2", "i3"], dests, strict=True)
    )
    assert used(db) == {"a": 1024, "b": 1024, "c": 1024}


def test_no_valid_host_leaves_no_claims(db: Database) -> None:
    for h in ("a", "b", "c"):
        add_node(db, h, memory_mb=2048)
    sched = manager(db)
    with pytest.raises(NoValidHost) as err:
        sched.select_destinations(request({**SMALL, "memory_mb": 2000}), ["1", "2", "3", "4"])
    assert type(err.value).__name__ == "NoValidHost"
    assert str(err.value) == "No valid host was found. There are not enough hosts available."
    assert allocations(db) == []
    assert used(db) == {"a": 0, "b": 0, "c": 0}
    # The cache did not keep the undone claims: three instances still fit.
    assert len(sched.select_destinations(request({**SMALL, "memory_mb": 2000}), ["x", "y", "z"]))


def test_disabled_forced_down_stale_and_unregistered_hosts_are_never_chosen(db: Database) -> None:
    big = {"vcpus": 64, "memory_mb": 262144}
    add_node(db, "disabled", disabled=True, **big)
    add_node(db, "forced", forced_down=True, **big)
    add_node(db, "stale", last_seen=utcnow() - dt.timedelta(seconds=600), **big)
    add_node(db, "nosvc", service=False, **big)
    add_node(db, "ok", memory_mb=4096)
    dests = manager(db).select_destinations(request(), ["a", "b", "c", "d"])
    assert {d["host"] for d in dests} == {"ok"}
    with pytest.raises(NoValidHost):
        manager(db).select_destinations(request(), ["e"])


def test_disabling_a_service_is_seen_by_a_running_scheduler(db: Database) -> None:
    add_node(db, "a", memory_mb=65536)
    add_node(db, "b")
    sched = manager(db)
    assert sched.select_destinations(request(), ["1"])[0]["host"] == "a"
    with db.session() as s:
        s.execute(update(ServiceRecord).where(ServiceRecord.host == "a").values(disabled=True))
    assert [d["host"] for d in sched.select_destinations(request(), ["2", "3"])] == ["b", "b"]


def test_availability_zone_is_respected(db: Database) -> None:
    add_node(db, "big", memory_mb=65536)  # default zone "nova"
    add_node(db, "z1", availability_zone="az1")
    sched = manager(db)
    assert sched.select_destinations(request(availability_zone="az1"), ["1"])[0]["host"] == "z1"
    assert sched.select_destinations(request(availability_zone="nova"), ["2"])[0]["host"] == "big"
    with pytest.raises(NoValidHost):
        sched.select_destinations(request(availability_zone="elsewhere"), ["3"])


def test_image_architecture_mismatch_is_filtered(db: Database) -> None:
    add_node(db, "x86", memory_mb=65536)
    add_node(db, "arm", supported_instances=[["aarch64", "qemu", "hvm"]])
    arm_image = {"id": "img", "properties": {"hw_architecture": "aarch64"}}
    dest = manager(db).select_destinations(request(image=arm_image), ["1"])
    assert dest[0]["host"] == "arm"
    with pytest.raises(NoValidHost):
        manager(db).select_destinations(
            request(image={"properties": {"hw_architecture": "ppc64le"}}), ["2"]
        )


def test_forced_host_skips_filters_but_not_the_claim(db: Database) -> None:
    add_node(db, "best", memory_mb=65536)
    add_node(db, "small", memory_mb=2048, disabled=True)
    add_node(db, "other", memory_mb=4096)
    sched = manager(db)
    assert sched.select_destinations(request(force_host="small"), ["1"])[0]["host"] == "small"
    with pytest.raises(NoValidHost):  # the claim still has to fit
        sched.select_destinations(request({**SMALL, "memory_mb": 1500}, force_host="small"), ["2"])
    with pytest.raises(NoValidHost):
        sched.select_destinations(request(force_host="nowhere"), ["3"])
    assert sched.select_destinations(request(ignore_hosts=["best"]), ["4"])[0]["host"] == "other"


def test_a_lost_claim_moves_on_to_the_next_host(db: Database) -> None:
    first = add_node(db, "first", memory_mb=8192)
    add_node(db, "second", memory_mb=4096)
    sched = manager(db)
    assert sched.select_destinations(request(), ["1"])[0]["host"] == "first"
    # Someone fills "first" behind the scheduler's back without bumping generation,
    # so the cached view still believes it has room: the claim must lose and move on.
    with db.session() as s:
        s.execute(update(ComputeNode).where(ComputeNode.id == first).values(memory_mb_used=8192))
    assert sched.select_destinations(request(), ["2"])[0]["host"] == "second"


def test_concurrent_schedulers_never_oversell(db: Database) -> None:
    for h in ("a", "b", "c"):
        add_node(db, h, vcpus=2, memory_mb=4096, local_gb=1000)  # 4 x 1 GiB each
    scheds = [manager(db), manager(db), manager(db)]
    placed: list[str] = []
    failed: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(scheds))

    def run(i: int) -> None:
        start.wait()
        for j in range(6):
            uuid = f"vm-{i}-{j}"
            try:
                scheds[i].select_destinations(request(), [uuid])
                placed.append(uuid)
            except NoValidHost:
                failed.append(uuid)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(scheds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(placed) == 12 and len(failed) == 6
    assert used(db) == {"a": 4096, "b": 4096, "c": 4096}


def test_release_after_scheduling_frees_the_host_for_the_cache(db: Database) -> None:
    add_node(db, "only", memory_mb=1024)
    sched = manager(db)
    sched.select_destinations(request(), ["1"])
    with pytest.raises(NoValidHost):
        sched.select_destinations(request(), ["2"])
    with db.session() as s:
        claims.release(s, "1")
    assert sched.select_destinations(request(), ["2"])[0]["host"] == "only"


async def test_over_the_bus_the_conductor_sees_no_valid_host_by_name(db: Database) -> None:
    from stackbox import bus as sbbus
    from stackbox.bus.local import LocalBus
    from stackbox.compute.rpcapi import SchedulerAPI

    add_node(db, "a", memory_mb=2048)
    bus = LocalBus(default_timeout=10)
    await bus.start()
    try:
        await bus.serve("scheduler", manager(db), host="sched1")
        api = SchedulerAPI(bus)
        dests = await api.select_destinations(request(), ["ok"])
        assert [d["host"] for d in dests] == ["a"]
        with pytest.raises(sbbus.RemoteError) as err:
            await api.select_destinations(request(), ["x", "y"])
        assert err.value.exc_type == "NoValidHost"
        assert err.value.message.startswith("No valid host was found.")
    finally:
        await bus.stop()
    assert allocations(db) == [("ok", dests[0]["compute_node_id"])]
