"""stackbox.compute.zones on a real database: a host's zone is the availability_zone
metadata of its aggregates, else the default zone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import delete

from stackbox.compute import zones
from stackbox.compute.opmodels import Aggregate, AggregateHost, AggregateMetadata
from stackbox.db import Database


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    with db.session() as s:
        s.execute(delete(Aggregate))
    yield db
    with db.session() as s:
        s.execute(delete(Aggregate))
    db.dispose()


def _agg(db: Database, hosts: list[str], zone: str | None = None, **meta: str) -> int:
    if zone:
        meta["availability_zone"] = zone
    with db.session() as s:
        a = Aggregate(uuid=str(uuid.uuid4()), name=f"agg-{uuid.uuid4().hex[:6]}")
        a.hosts = [AggregateHost(host=h) for h in hosts]
        a.metadata_items = [AggregateMetadata(key=k, value=v) for k, v in meta.items()]
        s.add(a)
        s.flush()
        return a.id


def test_hosts_in_zoned_unzoned_and_no_aggregates(db: Database) -> None:
    _agg(db, ["h1", "h2"], "az1")
    _agg(db, ["h2", "h3"], ssd="true")  # no zone: does not move h2 out of az1
    _agg(db, [], "empty-zone")
    with db.session() as s:
        assert zones.host_zones(s, "nova") == {"h1": "az1", "h2": "az1", "h3": "nova"}
        assert zones.zone_of(s, "h1", "nova") == "az1"
        assert zones.zone_of(s, "h3", "nova") == "nova"
        assert zones.zone_of(s, "unknown", "nova") == "nova"
        assert zones.zone_names(s) == {"az1", "empty-zone"}


def test_deleting_the_aggregate_returns_hosts_to_the_default(db: Database) -> None:
    agg = _agg(db, ["h9"], "az9")
    with db.session() as s:
        assert zones.zone_of(s, "h9", "default") == "az9"
        s.delete(s.get(Aggregate, agg))
    with db.session() as s:
        assert zones.zone_of(s, "h9", "default") == "default"
        assert zones.host_zones(s, "default") == {}
