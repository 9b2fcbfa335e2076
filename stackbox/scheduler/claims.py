"""Atomic resource claims on compute nodes: the only code that changes `*_used`.

A claim is ONE conditional UPDATE of `compute_nodes` that adds a consumer's amounts
only while the result stays within `(total - reserved) * allocation_ratio` for vCPUs,
RAM and disk, plus the matching `allocations` row in the same transaction. Two
schedulers racing for the last GiB of a host cannot both win: PostgreSQL re-checks
the WHERE clause on the row version the first committer left (READ COMMITTED), and
SQLite serialises writers. The caller owns the transaction (commit or roll back the
session); commit soon after a claim so other writers are not held up.

Pure SQL over a Session: no scheduling policy (filters, weighers) belongs here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from stackbox.compute import pci
from stackbox.compute.models import Allocation, ComputeNode
from stackbox.compute.opmodels import PciDevice, ServerGroup, ServerGroupMember
from stackbox.db.base import utcnow
from stackbox.virt import numa

NODES: Table = ComputeNode.__table__  # type: ignore[assignment]  # Core: true rowcounts
ALLOCS: Table = Allocation.__table__  # type: ignore[assignment]


def _limits() -> tuple[ColumnElement[Any], ColumnElement[Any], ColumnElement[Any]]:
    """SQL expressions of the sellable vCPUs, RAM (MiB) and disk (GiB) of a node."""
    c = NODES.c
    vcpus = (c.vcpus - c.reserved_host_cpus) * c.cpu_allocation_ratio
    ram = (c.memory_mb - c.reserved_host_memory_mb) * c.ram_allocation_ratio
    disk = (c.local_gb - c.reserved_host_disk_mb / 1024.0) * c.disk_allocation_ratio
    return vcpus, ram, disk


def _claim_statement() -> Any:
    """The conditional UPDATE, built once with bind parameters (claims are hot)."""
    c = NODES.c
    max_vcpus, max_ram, max_disk = _limits()
    v = bindparam("v", type_=Integer)
    m = bindparam("m", type_=Integer)
    d = bindparam("d", type_=Integer)
    return (
        update(NODES)
        .where(
            and_(
                c.id == bindparam("node_id", type_=Integer),
                c.vcpus_used + v <= max_vcpus,
                c.memory_mb_used + m <= max_ram,
                c.local_gb_used + d <= max_disk,
            )
        )
        .values(
            vcpus_used=c.vcpus_used + v,
            memory_mb_used=c.memory_mb_used + m,
            local_gb_used=c.local_gb_used + d,
            generation=c.generation + 1,
            updated_at=bindparam("now", type_=DateTime),
        )
    )


def _upsert_statement(dialect: str) -> Any:
    """INSERT of an allocation that adds to the consumer's existing row on that node
    (PostgreSQL and SQLite: ON CONFLICT DO UPDATE)."""
    ins = pg_insert(ALLOCS) if dialect == "postgresql" else sqlite_insert(ALLOCS)
    return ins.on_conflict_do_update(
        index_elements=[ALLOCS.c.consumer_id, ALLOCS.c.compute_node_id],
        set_={
            "vcpus": ALLOCS.c.vcpus + ins.excluded.vcpus,
            "memory_mb": ALLOCS.c.memory_mb + ins.excluded.memory_mb,
            "disk_gb": ALLOCS.c.disk_gb + ins.excluded.disk_gb,
        },
    )


_CLAIM = _claim_statement()
_UPSERT = {name: _upsert_statement(name) for name in ("postgresql", "sqlite")}


def claim(
    s: Session, node_id: int, consumer_id: str, vcpus: int, memory_mb: int, disk_gb: int
) -> bool:
    """Take `vcpus`/`memory_mb`/`disk_gb` on node `node_id` for `consumer_id`. True if
    taken (node updated, allocation recorded); False if the node does not exist or the
    amounts no longer fit. A consumer claiming twice on one node holds the sum."""
    if min(vcpus, memory_mb, disk_gb) < 0:
        raise ValueError("claim amounts must not be negative")
    now = utcnow()
    conn = s.connection()
    params = {"node_id": node_id, "v": vcpus, "m": memory_mb, "d": disk_gb, "now": now}
    if conn.execute(_CLAIM, params).rowcount != 1:
        return False
    values = {
        "consumer_id": consumer_id,
        "compute_node_id": node_id,
        "vcpus": vcpus,
        "memory_mb": memory_mb,
        "disk_gb": disk_gb,
        "created_at": now,
    }
    upsert = _UPSERT.get(conn.dialect.name)
    if upsert is not None:
        conn.execute(upsert, values)
        return True
    a = ALLOCS.c
    existing = conn.execute(
        select(a.id).where(a.consumer_id == consumer_id, a.compute_node_id == node_id)
    ).first()
    if existing is None:
        conn.execute(insert(ALLOCS).values(**values))
    else:
        conn.execute(
            update(ALLOCS)
            .where(a.id == existing.id)
            .values(
                vcpus=a.vcpus + vcpus,
                memory_mb=a.memory_mb + memory_mb,
                disk_gb=a.disk_gb + disk_gb,
            )
        )
    return True


def release(
    s: Session, consumer_id: str, node_id: int | None = None, *, owner: str | None = None
) -> int:
    """Give back everything `consumer_id` holds (only on `node_id` when given): delete
    its allocations and subtract them from their nodes. Returns how many allocations
    were released (0 when it held none, e.g. a second release racing the first).
    `owner`: the instance whose PCI devices the claim took (default: the consumer, or
    `<uuid>` of a `migration:<uuid>` consumer named after its instance)."""
    a = ALLOCS.c
    conn = s.connection()
    query = select(a.id, a.compute_node_id, a.vcpus, a.memory_mb, a.disk_gb, a.details).where(
        a.consumer_id == consumer_id
    )
    if node_id is not None:
        query = query.where(a.compute_node_id == node_id)
    rows = conn.execute(query).all()
    released = 0
    pci_addresses: list[tuple[int, str]] = []
    for row in rows:
        # Delete first: only the transaction whose DELETE matched gives the amounts back.
        if conn.execute(delete(ALLOCS).where(a.id == row.id)).rowcount != 1:
            continue
        c = NODES.c
        conn.execute(
            update(NODES)
            .where(c.id == row.compute_node_id)
            .values(
                vcpus_used=c.vcpus_used - row.vcpus,
                memory_mb_used=c.memory_mb_used - row.memory_mb,
                local_gb_used=c.local_gb_used - row.disk_gb,
                generation=c.generation + 1,
                updated_at=utcnow(),
            )
        )
        released += 1
        for dev in (row.details or {}).get("pci") or []:
            pci_addresses.append((row.compute_node_id, dev["address"]))
    # Only the devices this allocation took: during a resize the instance owns devices
    # under two allocations (its own and `migration:<uuid>`).
    release_pci_devices(s, owner or consumer_id.removeprefix("migration:"), pci_addresses)
    return released


def move(s: Session, old_consumer: str, new_consumer: str) -> int:
    """Hand every allocation of `old_consumer` to `new_consumer` (resize keeps the
    source host's share under "migration:<uuid>"). Node usage does not change.
    Returns the number of allocations moved."""
    a = ALLOCS.c
    stmt = update(ALLOCS).where(a.consumer_id == old_consumer).values(consumer_id=new_consumer)
    return int(s.connection().execute(stmt).rowcount)


def allocations_of(s: Session, consumer_id: str) -> list[dict[str, int]]:
    """The consumer's allocations: [{compute_node_id, vcpus, memory_mb, disk_gb}]."""
    a = ALLOCS.c
    rows = s.connection().execute(
        select(a.compute_node_id, a.vcpus, a.memory_mb, a.disk_gb)
        .where(a.consumer_id == consumer_id)
        .order_by(a.id)
    )
    return [dict(r._mapping) for r in rows]


def heal(s: Session, node_id: int) -> bool:
    """Recompute the node's `*_used` from its allocations (the conductor calls this
    when a host reports). True if the node exists."""
    c = NODES.c
    a = ALLOCS.c
    conn = s.connection()
    if s.get_bind().dialect.name != "sqlite":
        # Lock the node first: claims that already touched it commit before we go on,
        # and the UPDATE below (a new statement, a new snapshot) then sees their rows.
        locked = conn.execute(select(c.id).where(c.id == node_id).with_for_update()).first()
        if locked is None:
            return False

    def total(col: Any) -> Any:
        return (
            select(func.coalesce(func.sum(col), 0))
            .where(a.compute_node_id == node_id)
            .scalar_subquery()
        )

    stmt = (
        update(NODES)
        .where(c.id == node_id)
        .values(
            vcpus_used=total(a.vcpus),
            memory_mb_used=total(a.memory_mb),
            local_gb_used=total(a.disk_gb),
            generation=c.generation + 1,
            updated_at=utcnow(),
        )
    )
    return bool(conn.execute(stmt).rowcount == 1)


# --- NUMA pinning, huge pages, PCI devices (after `claim` won, same transaction) -------
PCI: Table = PciDevice.__table__  # type: ignore[assignment]


def claim_placement(
    s: Session,
    node_id: int,
    consumer_id: str,
    numa_req: numa.NumaRequest | None,
    pci_req: list[tuple[pci.Alias, int]] | None = None,
) -> dict[str, Any] | None:
    """Pin host CPUs / huge pages and take PCI devices for `consumer_id` on `node_id`,
    right after `claim` succeeded in this transaction, and record them in the
    allocation's `details`. None when they do not fit: the caller must roll back.

    Race-free: `claim`'s UPDATE holds the node row (PostgreSQL row lock until commit;
    SQLite one writer), so the allocations read here include every committed claim and
    none can commit on this node before ours. PCI devices move available → allocated
    by a conditional UPDATE each."""
    conn = s.connection()
    details: dict[str, Any] = {}
    if numa_req is not None:
        topo = conn.execute(select(NODES.c.numa_topology).where(NODES.c.id == node_id)).scalar()
        a = ALLOCS.c
        others = conn.execute(
            select(a.details).where(a.compute_node_id == node_id, a.consumer_id != consumer_id)
        ).scalars()
        placement = numa.fit(topo, numa_req, numa.usage_from(others))
        if placement is None:
            return None
        details.update(placement)
    if pci_req:
        taken = _claim_pci(conn, node_id, consumer_id, pci_req)
        if taken is None:
            return None
        details["pci"] = taken
    if details:
        conn.execute(
            update(ALLOCS)
            .where(ALLOCS.c.consumer_id == consumer_id, ALLOCS.c.compute_node_id == node_id)
            .values(details=details)
        )
    return details


def _claim_pci(
    conn: Any, node_id: int, consumer_id: str, request: list[tuple[pci.Alias, int]]
) -> list[dict[str, Any]] | None:
    p = PCI.c
    taken: list[dict[str, Any]] = []
    for alias, count in request:
        rows = conn.execute(
            select(p.id, p.address, p.vendor_id, p.product_id, p.numa_node)
            .where(
                p.compute_node_id == node_id,
                p.status == "available",
                p.vendor_id == alias.vendor_id,
                p.product_id == alias.product_id,
                p.dev_type == alias.device_type,
            )
            .order_by(p.id)
        ).all()
        got = 0
        for row in rows:
            if got == count:
                break
            won = conn.execute(
                update(PCI)
                .where(p.id == row.id, p.status == "available")
                .values(status="allocated", instance_uuid=consumer_id)
            ).rowcount
            if won == 1:
                got += 1
                taken.append({"address": row.address, "vendor_id": row.vendor_id,
                              "product_id": row.product_id, "numa_node": row.numa_node,
                              "alias": alias.name})  # fmt: skip
        if got < count:
            return None
    return taken


def release_pci_devices(s: Session, instance_uuid: str, devices: list[tuple[int, str]]) -> int:
    """Give back the PCI devices (node id, address) that `instance_uuid` holds."""
    p = PCI.c
    freed = 0
    for node, address in devices:
        stmt = update(PCI).where(
            p.compute_node_id == node,
            p.address == address,
            p.instance_uuid == instance_uuid,
            p.status == "allocated",
        )
        freed += int(
            s.connection().execute(stmt.values(status="available", instance_uuid=None)).rowcount
        )
    return freed


def group_allows(s: Session, node_id: int, consumer_id: str, group: dict[str, Any]) -> bool:
    """Inside a claim's transaction: does the hard (anti-)affinity policy of `group`
    ({"uuid", "policy", "rules"}) still hold with `consumer_id` on `node_id`, counting
    every member's allocation? The group row is locked first, so claims of one group by
    several schedulers are judged one after the other (the filters saw a view that
    another scheduler may have changed since)."""
    policy = group.get("policy")
    if policy not in ("affinity", "anti-affinity") or not group.get("uuid"):
        return True
    conn = s.connection()
    g = ServerGroup.__table__.c
    gid = conn.execute(select(g.id).where(g.uuid == group["uuid"])).scalar()
    if gid is None:
        return True
    conn.execute(update(ServerGroup).where(ServerGroup.id == gid).values(rules=ServerGroup.rules))
    m = ServerGroupMember.__table__.c
    a = ALLOCS.c
    members = select(m.instance_uuid).where(m.group_id == gid, m.instance_uuid != consumer_id)
    rows = conn.execute(
        select(a.compute_node_id, func.count())
        .where(a.consumer_id.in_(members))
        .group_by(a.compute_node_id)
    ).all()
    here = sum(n for node, n in rows if node == node_id)
    elsewhere = sum(n for node, n in rows if node != node_id)
    if policy == "affinity":
        return elsewhere == 0
    limit = max(1, int((group.get("rules") or {}).get("max_server_per_host", 1)))
    return here < limit
