"""Host filters: each a small class with a `name` and `passes(host, spec) -> bool`,
listed by name in `filter_registry.FILTERS`; `[scheduler] enabled_filters` picks and orders them.

Pure: a filter reads a HostState and a RequestSpec and answers yes or no. No database,
no weighing, no claims here. `applies(spec)` lets the manager skip a filter that has
nothing to check for this request (no extra specs, no image properties...).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from stackbox.scheduler.hoststate import (
    HostState,
    RequestSpec,
    canonical_arch,
    canonical_hv_type,
    canonical_vm_mode,
)


class BaseFilter:
    name: ClassVar[str] = ""

    def applies(self, spec: RequestSpec) -> bool:
        return True

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        raise NotImplementedError

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        """The hosts that pass (filters on the hot path inline their test here)."""
        passes = self.passes
        return [h for h in hosts if passes(h, spec)]


class ComputeFilter(BaseFilter):
    """The host's compute service is enabled and up."""

    name = "ComputeFilter"

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        return host.enabled and host.up

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        return [h for h in hosts if h.enabled and h.up]


class AvailabilityZoneFilter(BaseFilter):
    """The host is in the requested availability zone (any zone when none asked)."""

    name = "AvailabilityZoneFilter"

    def applies(self, spec: RequestSpec) -> bool:
        return spec.availability_zone is not None

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        return spec.availability_zone is None or host.availability_zone == spec.availability_zone


class ResourceFilter(BaseFilter):
    """Free vCPUs, RAM and disk (under the allocation ratios) fit the flavor."""

    name = "ResourceFilter"

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        return (
            host.vcpus_limit - host.vcpus_used >= spec.vcpus
            and host.memory_mb_limit - host.memory_mb_used >= spec.memory_mb
            and host.disk_gb_limit - host.local_gb_used >= spec.disk_gb
        )

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        v, m, d = spec.vcpus, spec.memory_mb, spec.disk_gb
        return [
            h
            for h in hosts
            if h.vcpus_limit - h.vcpus_used >= v
            and h.memory_mb_limit - h.memory_mb_used >= m
            and h.disk_gb_limit - h.local_gb_used >= d
        ]


# --- extra-spec matching ("capabilities:*") ------------------------------------------
def _num(x: Any) -> float:
    return float(x)


_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "=": operator.ge,  # "= 4": at least 4 (the usual Nova meaning)
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
}
_STRING: dict[str, Callable[[str, str], bool]] = {
    "s==": operator.eq,
    "s!=": operator.ne,
    "s<": operator.lt,
    "s<=": operator.le,
    "s>": operator.gt,
    "s>=": operator.ge,
}


def match_extra_spec(value: Any, requirement: str) -> bool:
    """Does a host `value` meet an extra-spec `requirement`? Supported forms: plain
    text (string equality), "= N" (>= N), "== N", "!= N", ">= N", "<= N", "s== x",
    "s!= x", "s< x", "s<= x", "s> x", "s>= x", "<in> x" (substring or list member),
    "<all-in> a b" (every one a member), "<or> a <or> b" (equal to one of them)."""
    words = requirement.split()
    if not words:
        return str(value) == requirement
    op, args = words[0], words[1:]
    try:
        if op in _NUMERIC and len(args) == 1:
            return _NUMERIC[op](_num(value), _num(args[0]))
        if op in _STRING and len(args) == 1:
            return _STRING[op](str(value), args[0])
        if op == "<in>" and len(args) == 1:
            return (
                args[0] in value
                if isinstance(value, (list, tuple, set, dict))
                else (args[0] in str(value))
            )
        if op == "<all-in>" and args:
            items = value if isinstance(value, (list, tuple, set)) else str(value).split()
            return all(a in items for a in args)
        if op == "<or>":
            options = [w for w in words if w != "<or>"]
            return str(value) in options
    except (TypeError, ValueError):
        return False
    return str(value) == requirement.strip()


def capabilities(host: HostState) -> dict[str, Any]:
    """The host fields flavor extra specs "capabilities:<name>[:<key>...]" can test."""
    return {
        "host": host.host,
        "hypervisor_hostname": host.node,
        "hypervisor_type": host.hypervisor_type,
        "hypervisor_version": host.hypervisor_version,
        "cpu_info": host.cpu_info,
        "vcpus_total": host.vcpus_total,
        "vcpus_used": host.vcpus_used,
        "total_usable_ram_mb": host.memory_mb_total,
        "free_ram_mb": host.free_ram_mb,
        "total_usable_disk_gb": host.local_gb_total,
        "free_disk_mb": host.free_disk_gb * 1024,
        "num_instances": host.num_instances,
        "availability_zone": host.availability_zone,
        "supported_instances": [list(t) for t in host.supported_instances],
    }


def _lookup(caps: Any, path: Sequence[str]) -> tuple[bool, Any]:
    for part in path:
        if not isinstance(caps, dict) or part not in caps:
            return False, None
        caps = caps[part]
    return True, caps


class ComputeCapabilitiesFilter(BaseFilter):
    """Flavor extra specs "capabilities:<field>[:<key>]" (and unscoped keys, as Nova
    does) must match the host's fields; keys of any other scope ("hw:", "quota:",
    "aggregate_instance_extra_specs:"...) are left to others."""

    name = "ComputeCapabilitiesFilter"

    @staticmethod
    def _wanted(spec: RequestSpec) -> list[tuple[list[str], str]]:
        out = []
        for key, req in spec.extra_specs.items():
            parts = key.split(":")
            if len(parts) > 1:
                if parts[0] != "capabilities":
                    continue
                parts = parts[1:]
            if parts and all(parts):
                out.append((parts, req))
        return out

    def applies(self, spec: RequestSpec) -> bool:
        return bool(self._wanted(spec))

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        wanted = self._wanted(spec)
        if not wanted:
            return True
        caps = capabilities(host)
        for path, req in wanted:
            found, value = _lookup(caps, path)
            if not found or not match_extra_spec(value, req):
                return False
        return True


# --- image properties -----------------------------------------------------------------
def version_to_int(version: str | int) -> int:
    """ "6.2.1" -> 6002001 (libvirt's encoding of versions); ints pass through."""
    if isinstance(version, int):
        return version
    parts = [int(p) for p in str(version).strip().split(".") if p != ""][:3]
    parts += [0] * (3 - len(parts))
    return parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]


class ImagePropertiesFilter(BaseFilter):
    """The image's architecture (hw_architecture, legacy architecture), hypervisor
    type (img_hv_type, legacy hypervisor_type) and vm mode (hw_vm_mode, legacy
    vm_mode) must be one of the host's supported_instances triples; an image without
    these properties fits anywhere. img_hv_requested_version (e.g. ">=6.0") is
    checked against the host's hypervisor_version."""

    name = "ImagePropertiesFilter"

    @staticmethod
    def _wanted(spec: RequestSpec) -> tuple[str | None, str | None, str | None, str | None]:
        p = spec.image_props
        arch = canonical_arch(p.get("hw_architecture") or p.get("architecture"))
        hv = canonical_hv_type(p.get("img_hv_type") or p.get("hypervisor_type"))
        mode = canonical_vm_mode(p.get("hw_vm_mode") or p.get("vm_mode"))
        version = p.get("img_hv_requested_version")
        return arch, hv, mode, (str(version) if version else None)

    def applies(self, spec: RequestSpec) -> bool:
        return any(self._wanted(spec))

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        arch, hv, mode, version = self._wanted(spec)
        if version and not self._version_ok(host.hypervisor_version, version):
            return False
        if not (arch or hv or mode):
            return True
        for h_arch, h_hv, h_mode in host.supported_instances:
            if (
                (arch is None or arch == h_arch)
                and (hv is None or hv == h_hv)
                and (mode is None or mode == h_mode)
            ):
                return True
        return False

    @staticmethod
    def _version_ok(host_version: int, requirement: str) -> bool:
        words = requirement.replace(">=", ">= ").replace("<=", "<= ").replace("==", "== ").split()
        if len(words) == 1:
            words = ["==", words[0]]
        try:
            return match_extra_spec(host_version, f"{words[0]} {version_to_int(words[1])}")
        except (ValueError, IndexError):
            return False


def filter_hosts(
    hosts: Iterable[HostState], spec: RequestSpec, filters: Sequence[BaseFilter]
) -> tuple[list[HostState], str]:
    """The hosts passing every filter, and (when none pass) which filter removed the
    last ones, for logs: "ResourceFilter returned 0 hosts"."""
    out = list(hosts)
    for f in filters:
        if not out:
            break
        if not f.applies(spec):
            continue
        out = f.filter_all(out, spec)
        if not out:
            return out, f"{f.name} returned 0 hosts"
    return out, "" if out else "no hosts to choose from"
