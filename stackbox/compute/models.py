"""Compute tables: flavors (+ extra specs, access), key pairs, instances (+ metadata,
tags, faults, actions and their events), compute nodes (each host's resource view) and
allocations (resource claims against a compute node). Data only: the state machine is
in `states.py`, the claim arithmetic in `stackbox/scheduler/claims.py`.

An instance row keeps a copy of its flavor (`flavor` JSON) as it was at boot or resize,
as Nova does: deleting or changing a flavor never changes a running server."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stackbox.db.base import ID, NAME, Base, utcnow


class Flavor(Base):
    __tablename__ = "flavors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flavorid: Mapped[str] = mapped_column(NAME, unique=True)  # the API's "id"
    name: Mapped[str] = mapped_column(NAME, unique=True)
    memory_mb: Mapped[int] = mapped_column(Integer)
    vcpus: Mapped[int] = mapped_column(Integer)
    root_gb: Mapped[int] = mapped_column(Integer, default=0)
    ephemeral_gb: Mapped[int] = mapped_column(Integer, default=0)
    swap: Mapped[int] = mapped_column(Integer, default=0)  # MiB
    rxtx_factor: Mapped[float] = mapped_column(Float, default=1.0)
    vcpu_weight: Mapped[int | None] = mapped_column(Integer)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(onupdate=utcnow)

    extra_specs: Mapped[list[FlavorExtraSpec]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="FlavorExtraSpec.key"
    )
    projects: Mapped[list[FlavorProject]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="FlavorProject.project_id"
    )

    @property
    def specs(self) -> dict[str, str]:
        return {s.key: s.value for s in self.extra_specs}


class FlavorExtraSpec(Base):
    __tablename__ = "flavor_extra_specs"
    __table_args__ = (UniqueConstraint("flavor_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flavor_id: Mapped[int] = mapped_column(ForeignKey("flavors.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(NAME)
    value: Mapped[str] = mapped_column(NAME)


class FlavorProject(Base):
    __tablename__ = "flavor_projects"
    __table_args__ = (UniqueConstraint("flavor_id", "project_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flavor_id: Mapped[int] = mapped_column(ForeignKey("flavors.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(ID)


class KeyPair(Base):
    __tablename__ = "key_pairs"
    __table_args__ = (UniqueConstraint("user_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(NAME)
    user_id: Mapped[str] = mapped_column(ID, index=True)
    fingerprint: Mapped[str] = mapped_column(NAME)
    public_key: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(10), default="ssh")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Instance(Base):
    __tablename__ = "instances"
    __table_args__ = (
        Index("ix_instances_project_deleted", "project_id", "deleted"),
        Index("ix_instances_host_deleted", "host", "deleted"),
    )
    # Sequential id: the libvirt domain is named after it (compute/cloud.py: domain_name).
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    display_name: Mapped[str] = mapped_column(NAME)
    display_description: Mapped[str | None] = mapped_column(Text)
    hostname: Mapped[str] = mapped_column(NAME)
    project_id: Mapped[str] = mapped_column(ID)
    user_id: Mapped[str] = mapped_column(ID)
    image_ref: Mapped[str | None] = mapped_column(String(36))
    kernel_id: Mapped[str | None] = mapped_column(String(36))
    ramdisk_id: Mapped[str | None] = mapped_column(String(36))
    # The flavor as booted: {"flavorid","name","memory_mb","vcpus","root_gb",
    # "ephemeral_gb","swap","rxtx_factor","extra_specs":{...},"description"}.
    flavor: Mapped[dict] = mapped_column()
    old_flavor: Mapped[dict | None] = mapped_column()  # during resize: the one to revert to
    new_flavor: Mapped[dict | None] = mapped_column()  # during resize: the target
    # Image metadata copied at boot: {"id","name","disk_format","container_format",
    # "size","min_disk","min_ram","properties":{...}}.
    image_meta: Mapped[dict] = mapped_column(default=dict)
    key_name: Mapped[str | None] = mapped_column(NAME)
    key_data: Mapped[str | None] = mapped_column(Text)
    user_data: Mapped[str | None] = mapped_column(Text)  # base64 as given
    vm_state: Mapped[str] = mapped_column(String(32), index=True)
    task_state: Mapped[str | None] = mapped_column(String(64))
    power_state: Mapped[int] = mapped_column(Integer, default=0)
    host: Mapped[str | None] = mapped_column(NAME)
    node: Mapped[str | None] = mapped_column(NAME)
    availability_zone: Mapped[str | None] = mapped_column(NAME)
    config_drive: Mapped[str] = mapped_column(String(16), default="")  # "" or "True"
    access_ip_v4: Mapped[str | None] = mapped_column(String(39))
    access_ip_v6: Mapped[str | None] = mapped_column(String(39))
    launch_index: Mapped[int] = mapped_column(Integer, default=0)
    reservation_id: Mapped[str] = mapped_column(String(16))
    root_device_name: Mapped[str | None] = mapped_column(String(32))
    disk_config: Mapped[str] = mapped_column(String(8), default="MANUAL")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_by: Mapped[str | None] = mapped_column(String(16))  # "owner" | "admin"
    locked_reason: Mapped[str | None] = mapped_column(Text)
    # Networking and block devices as handed to the compute host (later issues fill these).
    network_info: Mapped[list] = mapped_column(default=list)
    block_devices: Mapped[list] = mapped_column(default=list)
    # Free-form bookkeeping (e.g. shelved image id, the request's scheduler hints).
    system_metadata: Mapped[dict] = mapped_column(default=dict)
    # The guest's NUMA layout as claimed (cells, vCPU→pCPU pins, page size), for the XML.
    numa_topology: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    launched_at: Mapped[dt.datetime | None] = mapped_column()
    terminated_at: Mapped[dt.datetime | None] = mapped_column()
    deleted_at: Mapped[dt.datetime | None] = mapped_column()
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)

    metadata_items: Mapped[list[InstanceMetadata]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="InstanceMetadata.key"
    )
    tags: Mapped[list[InstanceTag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="InstanceTag.tag"
    )

    @property
    def name(self) -> str:
        """Nova's default name of the instance; the libvirt domain's own name depends on
        the cloud and the configured template (`compute.cloud.instance_name`)."""
        return f"instance-{self.id:08x}"

    @property
    def meta(self) -> dict[str, str]:
        return {m.key: m.value for m in self.metadata_items}


class InstanceMetadata(Base):
    __tablename__ = "instance_metadata"
    __table_args__ = (UniqueConstraint("instance_uuid", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_uuid: Mapped[str] = mapped_column(ForeignKey("instances.uuid", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(NAME)
    value: Mapped[str] = mapped_column(NAME)


class InstanceTag(Base):
    __tablename__ = "instance_tags"
    __table_args__ = (UniqueConstraint("instance_uuid", "tag"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_uuid: Mapped[str] = mapped_column(ForeignKey("instances.uuid", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(80))


class InstanceFault(Base):
    __tablename__ = "instance_faults"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_uuid: Mapped[str] = mapped_column(
        ForeignKey("instances.uuid", ondelete="CASCADE"), index=True
    )
    code: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(NAME)
    details: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(NAME)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class InstanceAction(Base):
    __tablename__ = "instance_actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(NAME)
    instance_uuid: Mapped[str] = mapped_column(
        ForeignKey("instances.uuid", ondelete="CASCADE"), index=True
    )
    request_id: Mapped[str] = mapped_column(NAME, index=True)
    user_id: Mapped[str | None] = mapped_column(ID)
    project_id: Mapped[str | None] = mapped_column(ID)
    start_time: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finish_time: Mapped[dt.datetime | None] = mapped_column()
    message: Mapped[str | None] = mapped_column(NAME)  # "Error" when an event failed
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    events: Mapped[list[InstanceActionEvent]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="InstanceActionEvent.id"
    )


class InstanceActionEvent(Base):
    __tablename__ = "instance_action_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(
        ForeignKey("instance_actions.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(NAME)  # e.g. compute_reboot_instance
    start_time: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finish_time: Mapped[dt.datetime | None] = mapped_column()
    result: Mapped[str | None] = mapped_column(String(16))  # "Success" | "Error"
    traceback: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(NAME)
    details: Mapped[str | None] = mapped_column(Text)


class ComputeNode(Base):
    """One compute host's resources. Totals are reported by the host; the `*_used`
    columns belong to the claims (scheduler/claims.py) and are only ever changed by
    a conditional UPDATE together with an `allocations` row."""

    __tablename__ = "compute_nodes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    host: Mapped[str] = mapped_column(NAME, unique=True)
    hypervisor_hostname: Mapped[str] = mapped_column(NAME)
    hypervisor_type: Mapped[str] = mapped_column(String(32), default="QEMU")
    hypervisor_version: Mapped[int] = mapped_column(Integer, default=0)
    host_ip: Mapped[str | None] = mapped_column(String(39))
    # {"arch","model","vendor","topology":{...},"features":[...]} from capabilities.
    cpu_info: Mapped[dict] = mapped_column(default=dict)
    # [[arch, hypervisor_type, vm_mode], ...] the host can run.
    supported_instances: Mapped[list] = mapped_column(default=list)
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    local_gb: Mapped[int] = mapped_column(Integer)
    vcpus_used: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb_used: Mapped[int] = mapped_column(Integer, default=0)
    local_gb_used: Mapped[int] = mapped_column(Integer, default=0)
    cpu_allocation_ratio: Mapped[float] = mapped_column(Float, default=4.0)
    ram_allocation_ratio: Mapped[float] = mapped_column(Float, default=1.0)
    disk_allocation_ratio: Mapped[float] = mapped_column(Float, default=1.0)
    reserved_host_memory_mb: Mapped[int] = mapped_column(Integer, default=512)
    reserved_host_disk_mb: Mapped[int] = mapped_column(Integer, default=0)
    reserved_host_cpus: Mapped[int] = mapped_column(Integer, default=0)
    availability_zone: Mapped[str | None] = mapped_column(NAME)
    free_disk_gb: Mapped[int | None] = mapped_column(BigInteger)  # as the host measured
    running_vms: Mapped[int] = mapped_column(Integer, default=0)
    # {"cells": [{"id", "cpus": [..], "siblings": [[..]], "memory_mb",
    #   "pages": [{"size_kb", "total", "free"}]}]} from libvirt capabilities.
    numa_topology: Mapped[dict] = mapped_column(default=dict)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Allocation(Base):
    """Resources one consumer holds on one compute node. The consumer is an instance
    uuid, or `migration:<instance uuid>` for the source side of a resize."""

    __tablename__ = "allocations"
    __table_args__ = (UniqueConstraint("consumer_id", "compute_node_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    consumer_id: Mapped[str] = mapped_column(NAME, index=True)
    compute_node_id: Mapped[int] = mapped_column(
        ForeignKey("compute_nodes.id", ondelete="CASCADE"), index=True
    )
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    disk_gb: Mapped[int] = mapped_column(Integer)
    # What else the claim took: {"cells": [{"id", "cpus": [host cpus pinned],
    # "memory_mb", "page_size_kb"}], "pci": [addresses]} (empty for plain guests).
    details: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CloudRecord(Base):
    """The cloud's identity (one row, id 1): `cloud_id` marks its libvirt domains and
    names them (`compute/cloud.py`); instances with an id up to `legacy_names_upto`
    existed before the cloud had an id and keep Nova's `instance-%08x` names."""

    __tablename__ = "cloud"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    cloud_id: Mapped[str] = mapped_column(String(32), unique=True)
    legacy_names_upto: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
