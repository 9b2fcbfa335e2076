"""What the scheduler knows about hosts and about a request: `HostState` (one compute
node as seen at decision time) and `RequestSpec` (one instance's needs), both built
from plain rows and dicts.

Pure data: no database access, no filtering or weighing policy. The manager loads the
rows; filters.py and weighers.py judge the views built here.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Aliases the way images and hosts spell the same thing (canonical on the right).
_ARCH_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "x86": "i686", "i386": "i686",
                 "x86_32": "i686", "arm64": "aarch64", "ppc64el": "ppc64le"}  # fmt: skip
_HV_ALIASES = {"xapi": "xen"}
_VM_MODE_ALIASES = {"hv": "hvm", "pv": "xen", "baremetal": "hvm"}


def canonical_arch(value: str | None) -> str | None:
    if not value:
        return None
    v = str(value).lower()
    return _ARCH_ALIASES.get(v, v)


def canonical_hv_type(value: str | None) -> str | None:
    if not value:
        return None
    v = str(value).lower()
    return _HV_ALIASES.get(v, v)


def canonical_vm_mode(value: str | None) -> str | None:
    if not value:
        return None
    v = str(value).lower()
    return _VM_MODE_ALIASES.get(v, v)


@dataclass
class HostState:
    """One compute node. `*_limit` are the sellable amounts, (total - reserved) *
    ratio; `free_*` what is left of them. Usage mirrors compute_nodes.*_used."""

    node_id: int
    host: str
    node: str
    vcpus_total: int
    memory_mb_total: int
    local_gb_total: int
    vcpus_limit: float
    memory_mb_limit: float
    disk_gb_limit: float
    vcpus_used: int = 0
    memory_mb_used: int = 0
    local_gb_used: int = 0
    hypervisor_type: str = "QEMU"
    hypervisor_version: int = 0
    cpu_info: dict[str, Any] = field(default_factory=dict)
    supported_instances: list[tuple[str | None, str | None, str | None]] = field(
        default_factory=list
    )
    availability_zone: str = "nova"
    enabled: bool = True
    up: bool = True
    num_instances: int = 0
    generation: int = 0
    # aggregates: key -> every value that key has in the host's aggregates
    aggregate_metadata: dict[str, set[str]] = field(default_factory=dict)
    # NUMA cells (compute_nodes.numa_topology), what placements hold per cell
    # ({cell id: numa.CellUsage}) and free PCI devices per (vendor, product, type).
    numa_topology: dict[str, Any] = field(default_factory=dict)
    numa_usage: dict[int, Any] = field(default_factory=dict)
    pci_pools: dict[tuple[str, str, str], int] = field(default_factory=dict)

    @property
    def free_vcpus(self) -> float:
        return self.vcpus_limit - self.vcpus_used

    @property
    def free_ram_mb(self) -> float:
        return self.memory_mb_limit - self.memory_mb_used

    @property
    def free_disk_gb(self) -> float:
        return self.disk_gb_limit - self.local_gb_used

    def consume(self, vcpus: int, memory_mb: int, disk_gb: int) -> None:
        """Account for a claim just made on this host (keeps multi-create spreading)."""
        self.vcpus_used += vcpus
        self.memory_mb_used += memory_mb
        self.local_gb_used += disk_gb
        self.num_instances += 1
        self.generation += 1


def host_state(
    node: Mapping[str, Any],
    service: Mapping[str, Any] | None,
    *,
    default_zone: str,
    down_time: float,
    now: dt.datetime,
) -> HostState:
    """A HostState from a compute_nodes row (mapping of its columns) and the row of
    the host's stackbox-compute service (None: never registered, so down)."""
    up = False
    enabled = False
    if service is not None:
        enabled = not service["disabled"]
        seen = service["last_seen_up"]
        up = (
            not service["forced_down"]
            and seen is not None
            and (now - seen).total_seconds() <= down_time
        )
    reserved_disk_gb = (node["reserved_host_disk_mb"] or 0) / 1024.0
    return HostState(
        node_id=node["id"],
        host=node["host"],
        node=node["hypervisor_hostname"],
        vcpus_total=node["vcpus"],
        memory_mb_total=node["memory_mb"],
        local_gb_total=node["local_gb"],
        vcpus_limit=(node["vcpus"] - (node["reserved_host_cpus"] or 0))
        * node["cpu_allocation_ratio"],
        memory_mb_limit=(node["memory_mb"] - (node["reserved_host_memory_mb"] or 0))
        * node["ram_allocation_ratio"],
        disk_gb_limit=(node["local_gb"] - reserved_disk_gb) * node["disk_allocation_ratio"],
        vcpus_used=node["vcpus_used"],
        memory_mb_used=node["memory_mb_used"],
        local_gb_used=node["local_gb_used"],
        hypervisor_type=node["hypervisor_type"] or "",
        hypervisor_version=node["hypervisor_version"] or 0,
        cpu_info=dict(node["cpu_info"] or {}),
        supported_instances=[
            (canonical_arch(t[0]), canonical_hv_type(t[1]), canonical_vm_mode(t[2]))
            for t in (node["supported_instances"] or [])
            if isinstance(t, (list, tuple)) and len(t) == 3
        ],
        availability_zone=node["availability_zone"] or default_zone,
        enabled=enabled,
        up=up,
        num_instances=node["running_vms"] or 0,
        generation=node["generation"],
        numa_topology=dict(node.get("numa_topology") or {}),
    )


@dataclass
class RequestSpec:
    """One instance's needs, from the request_spec dict of SchedulerAPI."""

    vcpus: int
    memory_mb: int
    disk_gb: int
    extra_specs: dict[str, str] = field(default_factory=dict)
    image_props: dict[str, Any] = field(default_factory=dict)
    availability_zone: str | None = None
    force_host: str | None = None
    force_node: str | None = None
    ignore_hosts: frozenset[str] = frozenset()
    project_id: str | None = None
    hints: dict[str, Any] = field(default_factory=dict)
    # server group: {"uuid", "policy", "rules", "hosts"}; hosts grow as a
    # multi-create places its instances
    group: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> RequestSpec:
        """Disk is root_gb + ephemeral_gb + swap (MiB) rounded up to GiB. The image
        properties are read from image["properties"] (Glance fields as copied at boot)
        with top-level keys as a fallback. force_host may be "host" or "host:node"; an
        availability_zone of "zone:host[:node]" is split the same way."""
        flavor = spec.get("flavor") or {}
        swap_mb = int(flavor.get("swap") or 0)
        disk = int(flavor.get("root_gb") or 0) + int(flavor.get("ephemeral_gb") or 0)
        disk += math.ceil(swap_mb / 1024)
        image = spec.get("image") or {}
        props = {k: v for k, v in image.items() if k != "properties"}
        props.update(image.get("properties") or {})
        force_host, force_node = spec.get("force_host") or None, None
        zone = spec.get("availability_zone") or None
        if zone and ":" in zone:  # "zone:host[:node]" the API did not split for us
            zone, _, rest = zone.partition(":")
            force_host = force_host or rest or None
            zone = zone or None
        if force_host and ":" in force_host:
            force_host, _, node = force_host.partition(":")
            force_node = node or None
            force_host = force_host or None
        return cls(
            vcpus=int(flavor.get("vcpus") or 0),
            memory_mb=int(flavor.get("memory_mb") or 0),
            disk_gb=disk,
            extra_specs={str(k): str(v) for k, v in (flavor.get("extra_specs") or {}).items()},
            image_props=props,
            availability_zone=zone,
            force_host=force_host,
            force_node=force_node,
            ignore_hosts=frozenset(spec.get("ignore_hosts") or ()),
            project_id=spec.get("project_id"),
            hints=dict(spec.get("scheduler_hints") or {}),
            group=_group(spec.get("group")),
        )


def _group(raw: Any) -> dict[str, Any] | None:
    """The request's server group with its member hosts as a fresh list."""
    if not raw:
        return None
    return {**raw, "hosts": list(raw.get("hosts") or ()), "rules": dict(raw.get("rules") or {})}
