"""Availability zones as Nova defines them: a zone is the `availability_zone` metadata
of a host aggregate; a host in no zoned aggregate is in the default zone
(`[compute] default_availability_zone`). Read-only lookups over the aggregate tables;
the os-aggregates API writes them, the scheduler and the zone APIs read them here."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from stackbox.compute.models import ComputeNode
from stackbox.compute.opmodels import AggregateHost, AggregateMetadata

AZ_KEY = "availability_zone"


def aggregate_zones(s: Session) -> dict[int, str]:
    """aggregate id → zone name, for aggregates that have a zone."""
    rows = s.execute(
        select(AggregateMetadata.aggregate_id, AggregateMetadata.value).where(
            AggregateMetadata.key == AZ_KEY
        )
    )
    return {agg_id: value for agg_id, value in rows}


def host_zones(s: Session, default_zone: str) -> dict[str, str]:
    """host → zone for every host that is in some aggregate (zoned or not).

    Hosts in an aggregate without a zone map to `default_zone`; hosts in no aggregate
    are absent (callers use `.get(host, default_zone)`)."""
    zones = aggregate_zones(s)
    out: dict[str, str] = {}
    for agg_id, host in s.execute(select(AggregateHost.aggregate_id, AggregateHost.host)):
        zone = zones.get(agg_id)
        if zone is not None:
            out[host] = zone
        else:
            out.setdefault(host, default_zone)
    return out


def zone_of(s: Session, host: str, default_zone: str) -> str:
    """The availability zone of one host."""
    row = s.execute(
        select(AggregateMetadata.value)
        .join(AggregateHost, AggregateHost.aggregate_id == AggregateMetadata.aggregate_id)
        .where(AggregateHost.host == host, AggregateMetadata.key == AZ_KEY)
        .limit(1)
    ).scalar_one_or_none()
    return row if row is not None else default_zone


def zone_names(s: Session) -> set[str]:
    """Every zone name defined by some aggregate (with or without hosts)."""
    return set(aggregate_zones(s).values())


def known_zones(s: Session, default_zone: str) -> set[str]:
    """Every zone a server may ask for: the default, those of aggregates, and those a
    compute node reports itself."""
    nodes = s.scalars(select(ComputeNode.availability_zone).distinct())
    return {default_zone, *zone_names(s), *(str(z) for z in nodes if z)}
