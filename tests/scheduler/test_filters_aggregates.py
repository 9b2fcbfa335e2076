"""Aggregate filters (pure, both ways) and the scheduler reading aggregates from the
database: zones from aggregate metadata, extra specs, tenant isolation."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from sqlalchemy import delete

from stackbox import config
from stackbox.compute.opmodels import Aggregate, AggregateHost, AggregateMetadata
from stackbox.db import Database
from stackbox.scheduler import filter_registry
from stackbox.scheduler.filters_aggregates import (
    AggregateInstanceExtraSpecsFilter,
    AggregateMultiTenancyIsolation,
)
from stackbox.scheduler.manager import NoValidHost, SchedulerManager
from tests.scheduler.test_filters import make_host, spec
from tests.scheduler.util import add_node

SMALL = {"vcpus": 1, "memory_mb": 512, "root_gb": 1}


def flavor_spec(extra: dict[str, str], **kw: object):  # type: ignore[no-untyped-def]
    return spec(flavor={**SMALL, "extra_specs": extra}, **kw)


def test_extra_specs_scoped_and_unscoped_match_aggregate_metadata() -> None:
    f = AggregateInstanceExtraSpecsFilter()
    ssd = make_host(aggregate_metadata={"ssd": {"true"}, "cpus": {"16"}})
    plain = make_host(aggregate_metadata={})
    s = flavor_spec({"aggregate_instance_extra_specs:ssd": "true"})
    assert f.applies(s) and f.passes(ssd, s) and not f.passes(plain, s)
    s = flavor_spec({"ssd": "true"})  # unscoped keys count too
    assert f.passes(ssd, s) and not f.passes(plain, s)
    assert not f.passes(ssd, flavor_spec({"ssd": "false"}))
    assert f.passes(ssd, flavor_spec({"cpus": ">= 8"}))
    assert not f.passes(ssd, flavor_spec({"cpus": ">= 32"}))
    assert f.passes(ssd, flavor_spec({"ssd": "<or> false <or> true"}))
    # other scopes are someone else's business
    s = flavor_spec({"hw:cpu_policy": "dedicated", "capabilities:x": "y"})
    assert not f.applies(s) and f.passes(plain, s)


def test_extra_specs_any_aggregate_value_may_match() -> None:
    f = AggregateInstanceExtraSpecsFilter()
    host = make_host(aggregate_metadata={"tier": {"gold", "silver"}})
    assert f.passes(host, flavor_spec({"tier": "silver"}))
    assert not f.passes(host, flavor_spec({"tier": "bronze"}))


def test_multi_tenancy_isolation() -> None:
    f = AggregateMultiTenancyIsolation()
    reserved = make_host(aggregate_metadata={"filter_tenant_id": {"p1,p2"},
                                             "filter_tenant_id_2": {"p3"}})  # fmt: skip
    free = make_host(aggregate_metadata={"ssd": {"true"}})
    for project in ("p1", "p2", "p3"):
        assert f.passes(reserved, spec(project_id=project))
    assert not f.passes(reserved, spec(project_id="p4"))
    assert f.passes(free, spec(project_id="p4")) and f.passes(make_host(), spec(project_id="x"))
    assert f.filter_all([reserved, free], spec(project_id="p4")) == [free]


def test_filters_are_registered_and_enabled_by_default() -> None:
    cfg = config.load(env={})
    names = [f.name for f in filter_registry.load_filters(cfg.get("scheduler", "enabled_filters"))]
    for n in ("AggregateInstanceExtraSpecsFilter", "AggregateMultiTenancyIsolation",
              "ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter"):  # fmt: skip
        assert n in names


# --- through the scheduler, with rows in the database ---------------------------------
@pytest.fixture(autouse=True)
def _no_aggregates(request: pytest.FixtureRequest) -> Iterator[None]:
    """Aggregates left by one test must not steer another's hosts."""
    if "db" not in request.fixturenames:
        yield
        return
    db: Database = request.getfixturevalue("db")
    with db.session() as s:
        s.execute(delete(Aggregate))
    yield
    with db.session() as s:
        s.execute(delete(Aggregate))


def _aggregate(db: Database, name: str, hosts: list[str], meta: dict[str, str]) -> int:
    with db.session() as s:
        agg = Aggregate(uuid=name + "-uuid", name=name)
        agg.hosts = [AggregateHost(host=h) for h in hosts]
        agg.metadata_items = [AggregateMetadata(key=k, value=v) for k, v in meta.items()]
        s.add(agg)
        s.flush()
        return agg.id


def _manager(db: Database) -> SchedulerManager:
    return SchedulerManager(config.load(env={}), db, rng=random.Random(0))


def _req(**kw: object) -> dict:
    return {"flavor": {**SMALL, "swap": 0, "ephemeral_gb": 0}, "image": {}, **kw}


def test_scheduler_zone_comes_from_aggregates_and_follows_changes(db: Database) -> None:
    add_node(db, "a", memory_mb=65536)
    add_node(db, "b")
    sched = _manager(db)
    with pytest.raises(NoValidHost):
        sched.select_destinations(_req(availability_zone="az1"), ["1"])
    agg = _aggregate(db, "pool", ["b"], {"availability_zone": "az1"})
    dest = sched.select_destinations(_req(availability_zone="az1"), ["2"])[0]
    assert dest["host"] == "b" and dest["availability_zone"] == "az1"
    assert sched.select_destinations(_req(availability_zone="nova"), ["3"])[0]["host"] == "a"
    with db.session() as s:  # the zone goes away: b is back in the default zone
        s.delete(s.get(Aggregate, agg))
    with pytest.raises(NoValidHost):
        sched.select_destinations(_req(availability_zone="az1"), ["4"])


def test_scheduler_extra_specs_and_tenants_against_aggregates(db: Database) -> None:
    add_node(db, "fast", memory_mb=8192)
    add_node(db, "slow", memory_mb=65536)
    add_node(db, "private", memory_mb=131072)
    _aggregate(db, "ssd", ["fast"], {"ssd": "true"})
    _aggregate(db, "mine", ["private"], {"filter_tenant_id": "owner"})
    sched = _manager(db)
    flavor = {**SMALL, "swap": 0, "ephemeral_gb": 0,
              "extra_specs": {"aggregate_instance_extra_specs:ssd": "true"}}  # fmt: skip
    dest = sched.select_destinations({"flavor": flavor, "image": {}, "project_id": "x"}, ["1"])
    assert dest[0]["host"] == "fast"
    # the biggest host is reserved for "owner": others land elsewhere
    assert sched.select_destinations(_req(project_id="x"), ["2"])[0]["host"] == "slow"
    assert sched.select_destinations(_req(project_id="owner"), ["3"])[0]["host"] == "private"
