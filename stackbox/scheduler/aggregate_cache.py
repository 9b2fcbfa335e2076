"""The scheduler's cached view of host aggregates: host → aggregate metadata (key →
set of values) and host → availability zone, re-read only when the aggregate tables
change. One cheap query per decision detects changes (count and id sums of the host
and metadata rows; the os-aggregates API replaces metadata rows rather than updating
them, so every change moves the sums).

I/O only at `refresh(conn)`; `apply` copies the cached facts onto HostState views.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, Table, func, select

from stackbox.compute.opmodels import AggregateHost, AggregateMetadata
from stackbox.compute.zones import AZ_KEY
from stackbox.scheduler.hoststate import HostState

HOSTS: Table = AggregateHost.__table__  # type: ignore[assignment]
META: Table = AggregateMetadata.__table__  # type: ignore[assignment]
_KEY = select(
    select(func.count(HOSTS.c.id)).scalar_subquery(),
    select(func.coalesce(func.sum(HOSTS.c.id), 0)).scalar_subquery(),
    select(func.count(META.c.id)).scalar_subquery(),
    select(func.coalesce(func.sum(META.c.id), 0)).scalar_subquery(),
)
_ROWS = select(HOSTS.c.host, META.c.key, META.c.value).join_from(
    HOSTS, META, META.c.aggregate_id == HOSTS.c.aggregate_id, isouter=True
)


class AggregateCache:
    def __init__(self) -> None:
        self._key: tuple[int, ...] | None = None
        self.metadata: dict[str, dict[str, set[str]]] = {}
        self._base_zone: dict[int, str] = {}  # node id → zone before aggregates

    def refresh(self, conn: Connection) -> bool:
        """Re-read the aggregates if they changed; True when they did."""
        key = tuple(int(v) for v in conn.execute(_KEY).one())
        if key == self._key:
            return False
        meta: dict[str, dict[str, set[str]]] = {}
        for host, k, v in conn.execute(_ROWS):
            per_host = meta.setdefault(host, {})
            if k is not None:
                per_host.setdefault(k, set()).add(v)
        self.metadata = meta
        self._key = key
        return True

    def apply(self, view: HostState, *, fresh: bool = True) -> HostState:
        """Give a view its aggregate metadata and zone (`fresh`: just built from its
        row, so its zone is the row's own, remembered for when aggregates go away)."""
        if fresh:
            self._base_zone[view.node_id] = view.availability_zone
        meta = self.metadata.get(view.host) or {}
        view.aggregate_metadata = meta
        zones = meta.get(AZ_KEY)
        base = self._base_zone.get(view.node_id, view.availability_zone)
        view.availability_zone = min(zones) if zones else base
        return view

    def apply_all(self, views: Iterable[HostState]) -> None:
        for view in views:
            self.apply(view, fresh=False)
