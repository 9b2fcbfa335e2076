"""Server group filters and weighers (pure, both ways) and multi-create into groups
through the scheduler against a real database."""

from __future__ import annotations

import random

import pytest

from stackbox import config
from stackbox.db import Database
from stackbox.scheduler.filters_groups import (
    ServerGroupAffinityFilter,
    ServerGroupAntiAffinityFilter,
)
from stackbox.scheduler.manager import NoValidHost, SchedulerManager
from stackbox.scheduler.weighers_groups import group_weights
from tests.scheduler.test_filters import make_host, spec
from tests.scheduler.util import add_node


def gspec(policy: str, hosts: list[str], **rules: int):  # type: ignore[no-untyped-def]
    return spec(group={"uuid": "g", "policy": policy, "rules": rules, "hosts": hosts})


H1, H2 = make_host(host="h1"), make_host(host="h2", node_id=2)


def test_affinity_filter() -> None:
    f = ServerGroupAffinityFilter()
    assert not f.applies(gspec("affinity", []))  # first member goes anywhere
    assert f.passes(H2, gspec("affinity", []))
    s = gspec("affinity", ["h1"])
    assert f.applies(s) and f.passes(H1, s) and not f.passes(H2, s)
    assert f.passes(H2, gspec("anti-affinity", ["h1"]))  # not its policy
    assert f.passes(H2, spec())


def test_anti_affinity_filter_and_max_server_per_host() -> None:
    f = ServerGroupAntiAffinityFilter()
    s = gspec("anti-affinity", ["h1"])
    assert f.applies(s) and not f.passes(H1, s) and f.passes(H2, s)
    assert f.filter_all([H1, H2], s) == [H2]
    s = gspec("anti-affinity", ["h1"], max_server_per_host=2)
    assert f.passes(H1, s)
    s = gspec("anti-affinity", ["h1", "h1"], max_server_per_host=2)
    assert not f.passes(H1, s) and f.filter_all([H1, H2], s) == [H2]
    assert f.passes(H1, gspec("affinity", ["h1"]))


def test_soft_weighers() -> None:
    hosts = [H1, H2]
    assert group_weights(hosts, spec(), 1.0, 1.0) is None
    assert group_weights(hosts, gspec("affinity", ["h1"]), 1.0, 1.0) is None
    assert group_weights(hosts, gspec("soft-affinity", ["h1"]), 2.0, 1.0) == [2.0, 0.0]
    assert group_weights(hosts, gspec("soft-anti-affinity", ["h1"]), 1.0, 3.0) == [0.0, 3.0]


def _manager(db: Database, **overrides: float) -> SchedulerManager:
    cfg = config.load(env={}, overrides={("scheduler", k): v for k, v in overrides.items()})
    return SchedulerManager(cfg, db, rng=random.Random(0))


def _req(policy: str, hosts: list[str] | None = None, **rules: int) -> dict:
    flavor = {"vcpus": 1, "memory_mb": 512, "root_gb": 1, "swap": 0, "ephemeral_gb": 0}
    group = {"uuid": "g", "policy": policy, "rules": rules, "hosts": hosts or []}
    return {"flavor": flavor, "image": {}, "group": group}


def test_multi_create_anti_affinity_spreads_or_fails(db: Database) -> None:
    for h in ("a", "b", "c"):
        add_node(db, h, memory_mb=65536 if h == "a" else 16384)
    sched = _manager(db)
    dests = sched.select_destinations(_req("anti-affinity"), ["1", "2", "3"])
    assert sorted(d["host"] for d in dests) == ["a", "b", "c"]
    with pytest.raises(NoValidHost):
        sched.select_destinations(_req("anti-affinity"), ["4", "5", "6", "7"])
    dests = sched.select_destinations(_req("anti-affinity", max_server_per_host=2), list("89xyzw"))
    assert sorted(d["host"] for d in dests) == ["a", "a", "b", "b", "c", "c"]


def test_multi_create_affinity_packs_on_one_host(db: Database) -> None:
    for h in ("a", "b", "c"):
        add_node(db, h)
    sched = _manager(db)
    dests = sched.select_destinations(_req("affinity"), ["1", "2", "3"])
    assert len({d["host"] for d in dests}) == 1
    # a later member joins the existing members' host
    host = dests[0]["host"]
    assert sched.select_destinations(_req("affinity", [host]), ["4"])[0]["host"] == host


def test_soft_affinity_prefers_the_members_host(db: Database) -> None:
    add_node(db, "big", memory_mb=65536)
    add_node(db, "small", memory_mb=16384)
    sched = _manager(
        db, soft_affinity_weight_multiplier=5.0, soft_anti_affinity_weight_multiplier=5.0
    )
    # free RAM alone would pick "big"; the (x5) soft weights outweigh RAM, CPU and disk
    dest = sched.select_destinations(_req("soft-affinity", ["small", "small"]), ["1"])
    assert dest[0]["host"] == "small"
    dest = sched.select_destinations(_req("soft-anti-affinity", ["big"]), ["2"])
    assert dest[0]["host"] == "small"
