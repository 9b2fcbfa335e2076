"""SchedulerManager: the scheduler's RPC endpoint on topic "scheduler".

`select_destinations` filters and weighs the host views, then claims on the best host
(claims.py: the conditional UPDATE is the only truth). The views are a cache of
compute_nodes and their compute services, refreshed cheaply before each call: one
aggregate query tells whether any node changed since we last looked (every claim,
release and host report bumps a node's `generation`), and only changed rows are read
again. Services are re-read when their disabled/forced-down counts change, or every
SERVICE_TTL seconds (heartbeats).

Policy lives in filters.py / weighers.py; this module does I/O and orchestration.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Table, case, func, select

from stackbox.compute import pci
from stackbox.db import Database
from stackbox.db.base import utcnow
from stackbox.scheduler import (
    claims,
    filter_registry,
    filters,
    filters_numa,
    filters_pci,
    weighers,
    weighers_groups,
)
from stackbox.scheduler.aggregate_cache import AggregateCache
from stackbox.scheduler.hoststate import HostState, RequestSpec, host_state
from stackbox.service.models import ServiceRecord
from stackbox.virt import numa

LOG = logging.getLogger("stackbox.scheduler")

NODES = claims.NODES
SERVICES: Table = ServiceRecord.__table__  # type: ignore[assignment]
COMPUTE_BINARY = "stackbox-compute"
SERVICE_TTL = 2.0  # seconds between re-reads of heartbeats
_NODE_COLUMNS = [
    NODES.c[name]
    for name in (
        "id", "host", "hypervisor_hostname", "vcpus", "memory_mb", "local_gb",
        "vcpus_used", "memory_mb_used", "local_gb_used", "cpu_allocation_ratio",
        "ram_allocation_ratio", "disk_allocation_ratio", "reserved_host_memory_mb",
        "reserved_host_disk_mb", "reserved_host_cpus", "hypervisor_type",
        "hypervisor_version", "cpu_info", "supported_instances", "availability_zone",
        "running_vms", "generation", "numa_topology",
    )
]  # fmt: skip
_SERVICE_COLUMNS = [SERVICES.c[n] for n in ("host", "disabled", "forced_down", "last_seen_up")]
# Cheap change detectors, built once: one row each, read before every decision.
_NODE_KEY = select(
    func.count(NODES.c.id),
    func.coalesce(func.sum(NODES.c.generation), 0),
    func.coalesce(func.max(NODES.c.id), 0),
)
_SERVICE_KEY = select(
    func.count(SERVICES.c.id),
    func.coalesce(func.sum(case((SERVICES.c.disabled, 1), else_=0)), 0),
    func.coalesce(func.sum(case((SERVICES.c.forced_down, 1), else_=0)), 0),
).where(SERVICES.c.binary == COMPUTE_BINARY)
_SERVICE_ROWS = select(*_SERVICE_COLUMNS).where(SERVICES.c.binary == COMPUTE_BINARY)


class NoValidHost(Exception):
    """No host can take (one of) the instances. The bus reports it by class name."""

    MESSAGE = "No valid host was found. There are not enough hosts available."

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        super().__init__(self.MESSAGE)


class SchedulerManager:
    """RPC endpoint of the scheduler. `cfg` is the Config, `db` the Database; `rng`
    (tests) seeds the host_subset_size pick."""

    def __init__(self, cfg: Any, db: Database, *, rng: random.Random | None = None) -> None:
        self.db = db
        self.filters = filter_registry.load_filters(cfg.get("scheduler", "enabled_filters"))
        self._configure_placement(cfg)
        self.multipliers = [
            (weighers.RAM, float(cfg.get("scheduler", "ram_weight_multiplier"))),
            (weighers.CPU, float(cfg.get("scheduler", "cpu_weight_multiplier"))),
            (weighers.DISK, float(cfg.get("scheduler", "disk_weight_multiplier"))),
        ]
        self.subset_size = int(cfg.get("scheduler", "host_subset_size"))
        self.default_zone = str(cfg.get("compute", "default_availability_zone"))
        self.down_time = float(cfg.get("service", "service_down_time"))
        self.rng = rng or random.Random()
        self._lock = threading.Lock()
        self._hosts: dict[int, HostState] = {}
        self._node_key: tuple[int, int, int] | None = None
        self._services: dict[str, dict[str, Any]] = {}
        self._service_key: tuple[int, int, int] | None = None
        self._service_read = 0.0
        self._recheck_at = dt.datetime.min
        # aggregates and server groups
        self._aggs = AggregateCache()
        self.soft_multipliers = (
            float(cfg.get("scheduler", "soft_affinity_weight_multiplier")),
            float(cfg.get("scheduler", "soft_anti_affinity_weight_multiplier")),
        )

    # --- RPC --------------------------------------------------------------------------
    def select_destinations(self, request_spec: dict, instance_uuids: list[str]) -> list[dict]:
        """One claimed destination per instance uuid, in order:
        [{"host", "node", "compute_node_id"}]. Raises NoValidHost (having released the
        claims it made) when any instance finds no host."""
        spec = RequestSpec.from_dict(request_spec or {})
        with self._lock:
            hosts = self._refresh()
            made: list[tuple[str, HostState]] = []
            try:
                for consumer in instance_uuids:
                    host, why = self._place(hosts, spec, consumer)
                    if host is None:
                        LOG.info("no host for %s: %s", consumer, why)
                        raise NoValidHost(why)
                    made.append((consumer, host))
                    if spec.group is not None:  # the next member sees this one
                        spec.group["hosts"].append(host.host)
            except BaseException:
                self._undo(made)
                raise
        return [
            {"host": h.host, "node": h.node, "compute_node_id": h.node_id,
             "availability_zone": h.availability_zone}
            for _, h in made
        ]  # fmt: skip

    # --- placement --------------------------------------------------------------------
    def _candidates(self, hosts: Iterable[HostState], spec: RequestSpec) -> tuple[list, str]:
        if spec.force_host:  # an admin's zone:host[:node] skips the filters, not the claim
            chosen = [
                h
                for h in hosts
                if h.host == spec.force_host and (spec.force_node in (None, h.node))
            ]
            return chosen, "" if chosen else f"forced host {spec.force_host} is unknown"
        if spec.ignore_hosts:
            hosts = [h for h in hosts if h.host not in spec.ignore_hosts]
        return filters.filter_hosts(hosts, spec, self.filters)

    def _place(
        self, hosts: list[HostState], spec: RequestSpec, consumer: str
    ) -> tuple[HostState | None, str]:
        candidates, why = self._candidates(hosts, spec)
        weights = weighers.weigh(candidates, self.multipliers)
        extra = weighers_groups.group_weights(candidates, spec, *self.soft_multipliers)
        if extra is not None:  # soft-(anti-)affinity server groups
            weights = [w + e for w, e in zip(weights, extra, strict=True)]
        numa_req = filters_numa.numa_request(spec)
        while candidates:
            i = weighers.choose(weights, self.subset_size, self.rng)
            host = candidates.pop(i)
            weights.pop(i)
            if numa_req is not None and (
                numa.fit(host.numa_topology, numa_req, host.numa_usage) is None
            ):  # the filter only checked the cheap necessary condition
                why = "NUMATopologyFilter: no host's free cells fit the guest"
                continue
            with self.db.session() as s:
                won = claims.claim(s, host.node_id, consumer, spec.vcpus, spec.memory_mb,
                                   spec.disk_gb)  # fmt: skip
                if won and not self._claim_placement(s, host, spec, consumer):
                    s.rollback()
                    won = False
                if (
                    won
                    and spec.group
                    and not claims.group_allows(s, host.node_id, consumer, spec.group)
                ):  # another scheduler placed a member meanwhile
                    s.rollback()
                    won = False
            if won:
                host.consume(spec.vcpus, spec.memory_mb, spec.disk_gb)
                if self._node_key is not None:
                    count, gens, max_id = self._node_key
                    self._node_key = (count, gens + 1, max_id)
                return host, ""
            LOG.debug("claim on %s lost a race; trying the next host", host.host)
            self._node_key = None  # our view of that host is stale: re-read next time
            why = "claims lost to concurrent requests"
        return None, why or "no host passed the filters"

    def _undo(self, made: list[tuple[str, HostState]]) -> None:
        if not made:
            return
        with self.db.session() as s:
            for consumer, host in made:
                claims.release(s, consumer, host.node_id)
        self._node_key = None

    # --- host views -------------------------------------------------------------------
    def _refresh(self) -> list[HostState]:
        """Bring the cached views up to date with the database, cheaply."""
        now = utcnow()
        # A heartbeat may expire now: judge it on fresh rows, never on a stale cache.
        expiring = now >= self._recheck_at
        with self.db.engine.connect() as conn:
            key_row = conn.execute(_NODE_KEY).one()
            node_key = (int(key_row[0]), int(key_row[1]), int(key_row[2]))
            services_changed = self._refresh_services(conn, force=expiring)
            aggs_changed = self._aggs.refresh(conn)  # host aggregates
            if node_key != self._node_key:
                self._reload_nodes(conn)
                self._node_key = node_key
            if aggs_changed:
                self._aggs.apply_all(self._hosts.values())
        if services_changed or expiring:
            self._judge_services(now)
        return list(self._hosts.values())

    def _view(self, row: Any) -> HostState:
        return self._aggs.apply(self._bare_view(row))

    def _bare_view(self, row: Any) -> HostState:
        return host_state(
            row,
            self._services.get(row["host"]),
            default_zone=self.default_zone,
            down_time=self.down_time,
            now=utcnow(),
        )

    def _reload_nodes(self, conn: Connection) -> None:
        """Re-read the compute_nodes rows whose generation differs from our view."""
        c = NODES.c
        query = select(*_NODE_COLUMNS)
        if self._hosts:
            gens = {r[0]: r[1] for r in conn.execute(select(c.id, c.generation))}
            for gone in set(self._hosts) - set(gens):
                del self._hosts[gone]
            changed = [i for i, g in gens.items()
                       if i not in self._hosts or self._hosts[i].generation != g]  # fmt: skip
            if not changed:
                return
            if len(changed) <= 500:
                query = query.where(c.id.in_(changed))
        loaded = []
        for row in conn.execute(query).mappings():
            self._hosts[row["id"]] = self._view(row)
            loaded.append(row["id"])
        self._load_placements(conn, loaded)

    def _refresh_services(self, conn: Connection, force: bool = False) -> bool:
        """Re-read the compute services when an operator changed one, heartbeats are
        older than SERVICE_TTL, or `force`. True when re-read."""
        key_row = conn.execute(_SERVICE_KEY).one()
        key = (int(key_row[0]), int(key_row[1]), int(key_row[2]))
        fresh = time.monotonic() - self._service_read < SERVICE_TTL
        if key == self._service_key and fresh and not force:
            return False
        rows = conn.execute(_SERVICE_ROWS)
        self._services = {r["host"]: dict(r) for r in rows.mappings()}
        self._service_key = key
        self._service_read = time.monotonic()
        return True

    def _judge_services(self, now: dt.datetime) -> None:
        """Set enabled/up on every view from the cached service rows, and note when
        the next heartbeat could expire (the views are re-judged then)."""
        soonest = now + dt.timedelta(seconds=SERVICE_TTL)
        limit = dt.timedelta(seconds=self.down_time)
        for view in self._hosts.values():
            svc = self._services.get(view.host)
            if svc is None:
                view.enabled = view.up = False
                continue
            view.enabled = not svc["disabled"]
            seen = svc["last_seen_up"]
            view.up = bool(not svc["forced_down"] and seen is not None and now - seen <= limit)
            if view.up and seen + limit < soonest:
                soonest = seen + limit
        self._recheck_at = soonest

    # --- NUMA / PCI placement (claims.claim_placement; filters_numa, filters_pci) ------
    def _configure_placement(self, cfg: Any) -> None:
        try:
            self.pci_aliases = pci.parse_aliases(cfg.get("pci", "alias"))
        except KeyError:  # a config without the [pci] section (old test configs)
            self.pci_aliases = {}
        for f in self.filters:
            if isinstance(f, filters_pci.PciPassthroughFilter):
                f.aliases = self.pci_aliases

    def _claim_placement(self, s: Any, host: HostState, spec: RequestSpec, consumer: str) -> bool:
        """Pin CPUs / huge pages / PCI devices after the node claim won (same session).
        False: they do not fit (the caller rolls the claim back)."""
        numa_req = filters_numa.numa_request(spec)
        try:
            pci_req = filters_pci.pci_request(spec, self.pci_aliases)
        except pci.InvalidPciRequest:
            return False
        if numa_req is None and not pci_req:
            return True
        placed = claims.claim_placement(s, host.node_id, consumer, numa_req, pci_req)
        if placed is None:
            return False
        for cell_id, used in numa.usage_from([placed]).items():
            mine = host.numa_usage.setdefault(cell_id, numa.CellUsage(set(), 0, {}))
            mine.pinned |= used.pinned
            mine.memory_mb += used.memory_mb
            for size, n in (used.pages or {}).items():
                mine.pages = mine.pages or {}
                mine.pages[size] = mine.pages.get(size, 0) + n
        for dev in placed.get("pci") or []:
            for key in list(host.pci_pools):
                if key[:2] == (dev["vendor_id"], dev["product_id"]) and host.pci_pools[key]:
                    host.pci_pools[key] -= 1
                    break
        return True

    def _load_placements(self, conn: Connection, node_ids: list[int]) -> None:
        """NUMA usage (allocations.details) and free PCI pools of the reloaded views:
        two queries, only for nodes that report NUMA cells / have PCI devices."""
        numa_ids = [i for i in node_ids if self._hosts[i].numa_topology]
        if numa_ids:
            a = claims.ALLOCS.c
            rows = conn.execute(
                select(a.compute_node_id, a.details).where(a.compute_node_id.in_(numa_ids))
            ).all()
            per_node: dict[int, list[Any]] = {}
            for node_id, details in rows:
                per_node.setdefault(node_id, []).append(details)
            for i in numa_ids:
                self._hosts[i].numa_usage = numa.usage_from(per_node.get(i, []))
        if node_ids:
            p = claims.PCI.c
            key_cols = (p.compute_node_id, p.vendor_id, p.product_id, p.dev_type)
            query = select(*key_cols, func.count()).where(p.status == "available")
            if len(node_ids) <= 500:
                query = query.where(p.compute_node_id.in_(node_ids))
            pools: dict[int, dict[tuple[str, str, str], int]] = {}
            for node_id, vendor, product, dev_type, n in conn.execute(query.group_by(*key_cols)):
                pools.setdefault(node_id, {})[(vendor, product, dev_type)] = int(n)
            for i in node_ids:
                self._hosts[i].pci_pools = pools.get(i, {})
