"""Server group filters: the request's group (RequestSpec.group = {"uuid", "policy",
"rules", "hosts"}, `hosts` holding one entry per member already placed, repeated when
members share a host) decides which hosts may take the next member.

- ServerGroupAffinityFilter ("affinity"): once a member is placed, only its host.
- ServerGroupAntiAffinityFilter ("anti-affinity"): fewer than
  rules["max_server_per_host"] (default 1) members on the host.

The soft policies are weighers (weighers_groups.py), never filters. Pure.
"""

from __future__ import annotations

from stackbox.scheduler.filters import BaseFilter
from stackbox.scheduler.hoststate import HostState, RequestSpec


def _policy(spec: RequestSpec) -> str | None:
    return spec.group.get("policy") if spec.group else None


class ServerGroupAffinityFilter(BaseFilter):
    name = "ServerGroupAffinityFilter"

    def applies(self, spec: RequestSpec) -> bool:
        return _policy(spec) == "affinity" and bool(spec.group and spec.group["hosts"])

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        if _policy(spec) != "affinity" or not spec.group or not spec.group["hosts"]:
            return True
        return host.host in spec.group["hosts"]


def max_per_host(spec: RequestSpec) -> int:
    rules = (spec.group or {}).get("rules") or {}
    try:
        return max(1, int(rules.get("max_server_per_host", 1)))
    except (TypeError, ValueError):
        return 1


class ServerGroupAntiAffinityFilter(BaseFilter):
    name = "ServerGroupAntiAffinityFilter"

    def applies(self, spec: RequestSpec) -> bool:
        return _policy(spec) == "anti-affinity" and bool(spec.group and spec.group["hosts"])

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        if _policy(spec) != "anti-affinity" or not spec.group:
            return True
        return spec.group["hosts"].count(host.host) < max_per_host(spec)

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        if _policy(spec) != "anti-affinity" or not spec.group:
            return list(hosts)
        limit = max_per_host(spec)
        counts: dict[str, int] = {}
        for h in spec.group["hosts"]:
            counts[h] = counts.get(h, 0) + 1
        return [h for h in hosts if counts.get(h.host, 0) < limit]
