"""Compute tables for operators: quotas (per project, per user, per class, plus a
per-project lock row that serialises quota checks), host aggregates (hosts and
metadata; an availability zone is the aggregate's `availability_zone` metadata),
server groups and their members, each host's PCI devices, each instance's stored
scheduling request (`request_specs`, migration 0007) and every move of a server
(`migrations`, migration 0011). Data only: quota arithmetic lives in `quotas.py`, the
request spec's shape in `requestspec.py`, a migration's statuses in `migrations.py`,
scheduling rules in `stackbox/scheduler/`.

Columns added to older tables for this issue (see migration 0004): compute_nodes
`numa_topology` (the host's NUMA cells as libvirt reports them), allocations `details`
(what a claim pinned: NUMA cells, host CPUs, page size, PCI addresses) and instances
`numa_topology` (the guest's cells and pinning, for the domain XML)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stackbox.db.base import ID, NAME, Base, utcnow


class Quota(Base):
    """A project's (user_id "") or a user's (user_id set) limit of one resource."""

    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("project_id", "user_id", "resource"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    user_id: Mapped[str] = mapped_column(ID, default="")
    resource: Mapped[str] = mapped_column(String(64))
    hard_limit: Mapped[int] = mapped_column(Integer)  # -1: unlimited
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class QuotaClass(Base):
    """Defaults by class; the class "default" is what projects without quotas get."""

    __tablename__ = "quota_classes"
    __table_args__ = (UniqueConstraint("class_name", "resource"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    class_name: Mapped[str] = mapped_column(NAME)
    resource: Mapped[str] = mapped_column(String(64))
    hard_limit: Mapped[int] = mapped_column(Integer)


class QuotaLock(Base):
    """One row per project. A quota-checked change first UPDATEs its project's row
    (a row lock on server databases, the write lock on SQLite), then counts and
    writes: concurrent requests of one project are checked one after the other."""

    __tablename__ = "quota_locks"
    project_id: Mapped[str] = mapped_column(ID, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)


class Aggregate(Base):
    __tablename__ = "aggregates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(onupdate=utcnow)

    hosts: Mapped[list[AggregateHost]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="AggregateHost.host"
    )
    metadata_items: Mapped[list[AggregateMetadata]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="AggregateMetadata.key"
    )

    @property
    def meta(self) -> dict[str, str]:
        return {m.key: m.value for m in self.metadata_items}


class AggregateHost(Base):
    __tablename__ = "aggregate_hosts"
    __table_args__ = (UniqueConstraint("aggregate_id", "host"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    aggregate_id: Mapped[int] = mapped_column(ForeignKey("aggregates.id", ondelete="CASCADE"))
    host: Mapped[str] = mapped_column(NAME, index=True)


class AggregateMetadata(Base):
    __tablename__ = "aggregate_metadata"
    __table_args__ = (UniqueConstraint("aggregate_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    aggregate_id: Mapped[int] = mapped_column(ForeignKey("aggregates.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(NAME)
    value: Mapped[str] = mapped_column(NAME)


class ServerGroup(Base):
    __tablename__ = "server_groups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(NAME)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    user_id: Mapped[str] = mapped_column(ID)
    # affinity | anti-affinity | soft-affinity | soft-anti-affinity
    policy: Mapped[str] = mapped_column(String(32))
    rules: Mapped[dict] = mapped_column(default=dict)  # {"max_server_per_host": N}
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    members: Mapped[list[ServerGroupMember]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ServerGroupMember.id"
    )


class ServerGroupMember(Base):
    __tablename__ = "server_group_members"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("server_groups.id", ondelete="CASCADE"))
    instance_uuid: Mapped[str] = mapped_column(String(36), unique=True)


class PciDevice(Base):
    """One passthrough-able PCI device of a host (from libvirt's node devices, limited
    by the host's pci_passthrough_whitelist). Claimed by one conditional UPDATE of
    `status` from "available" to "allocated" together with `instance_uuid`."""

    __tablename__ = "pci_devices"
    __table_args__ = (UniqueConstraint("compute_node_id", "address"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    compute_node_id: Mapped[int] = mapped_column(
        ForeignKey("compute_nodes.id", ondelete="CASCADE"), index=True
    )
    address: Mapped[str] = mapped_column(String(16))  # 0000:04:10.0
    vendor_id: Mapped[str] = mapped_column(String(8))
    product_id: Mapped[str] = mapped_column(String(8))
    dev_type: Mapped[str] = mapped_column(String(16), default="type-PCI")
    numa_node: Mapped[int | None] = mapped_column(Integer)
    label: Mapped[str | None] = mapped_column(NAME)  # libvirt node device name
    status: Mapped[str] = mapped_column(String(16), default="available")
    instance_uuid: Mapped[str | None] = mapped_column(String(36), index=True)


class RequestSpecRow(Base):
    """One instance's scheduling request as built at create (Nova's request_specs):
    the JSON dict `stackbox.compute.requestspec` documents, read back by every later
    scheduling of the instance (unshelve, resize, moves)."""

    __tablename__ = "request_specs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    spec: Mapped[dict] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Migration(Base):
    """One move of a server (Nova's migrations row): a resize today; cold and live
    migrations and evacuations later. While it is in progress the source host's claim
    is held by consumer `migration:<uuid>`. Flavor ids are `flavors.id` (None when the
    flavor was deleted before the move); `dest_host` is the destination's IP."""

    __tablename__ = "migrations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    source_compute: Mapped[str | None] = mapped_column(NAME)
    dest_compute: Mapped[str | None] = mapped_column(NAME)
    source_node: Mapped[str | None] = mapped_column(NAME)
    dest_node: Mapped[str | None] = mapped_column(NAME)
    dest_host: Mapped[str | None] = mapped_column(NAME)
    old_instance_type_id: Mapped[int | None] = mapped_column(Integer)
    new_instance_type_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(NAME, index=True)
    migration_type: Mapped[str] = mapped_column(String(32))
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    instance_uuid: Mapped[str] = mapped_column(
        ForeignKey("instances.uuid", ondelete="CASCADE"), index=True
    )
    memory_total: Mapped[int | None] = mapped_column(BigInteger)
    memory_processed: Mapped[int | None] = mapped_column(BigInteger)
    memory_remaining: Mapped[int | None] = mapped_column(BigInteger)
    disk_total: Mapped[int | None] = mapped_column(BigInteger)
    disk_processed: Mapped[int | None] = mapped_column(BigInteger)
    disk_remaining: Mapped[int | None] = mapped_column(BigInteger)
    cross_cell_move: Mapped[bool] = mapped_column(Boolean, default=False)
    user_id: Mapped[str | None] = mapped_column(ID)
    project_id: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime | None] = mapped_column()
    deleted_at: Mapped[dt.datetime | None] = mapped_column()
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
