"""Host filters that read host aggregate metadata (HostState.aggregate_metadata: key →
every value that key has across the host's aggregates):

- AggregateInstanceExtraSpecsFilter: flavor extra specs scoped
  "aggregate_instance_extra_specs:<key>" (and unscoped keys) must match one of the
  host's aggregate values for <key>, with the operators of `match_extra_spec`; a host
  whose aggregates lack the key fails.
- AggregateMultiTenancyIsolation: a host whose aggregates carry `filter_tenant_id`
  (or `filter_tenant_id_<N>`; comma-separated lists allowed) takes only those projects;
  other hosts take anyone.

Pure, like filters.py: the manager fills the aggregate metadata, nothing here reads
the database. The availability zone itself is checked by filters.AvailabilityZoneFilter
against the zone the manager took from the aggregates.
"""

from __future__ import annotations

from stackbox.scheduler.filters import BaseFilter, match_extra_spec
from stackbox.scheduler.hoststate import HostState, RequestSpec

SCOPE = "aggregate_instance_extra_specs"
TENANT_KEY = "filter_tenant_id"


def wanted_specs(extra_specs: dict[str, str]) -> list[tuple[str, str]]:
    """(aggregate key, requirement) pairs this filter checks, Nova's scoping rules."""
    out = []
    for key, req in extra_specs.items():
        scope = key.split(":", 1)
        if len(scope) > 1:
            if scope[0] != SCOPE:
                continue
            key = scope[1]
        if key:
            out.append((key, req))
    return out


class AggregateInstanceExtraSpecsFilter(BaseFilter):
    name = "AggregateInstanceExtraSpecsFilter"

    def applies(self, spec: RequestSpec) -> bool:
        return bool(wanted_specs(spec.extra_specs))

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        for key, req in wanted_specs(spec.extra_specs):
            values = host.aggregate_metadata.get(key)
            if not values:
                return False
            if not any(match_extra_spec(v, req) for v in values):
                return False
        return True


def allowed_tenants(metadata: dict[str, set[str]]) -> set[str] | None:
    """The projects a host is reserved for (None: not reserved)."""
    keys = [k for k in metadata if k == TENANT_KEY or k.startswith(TENANT_KEY + "_")]
    if not keys:
        return None
    out: set[str] = set()
    for k in keys:
        for value in metadata[k]:
            out.update(p.strip() for p in value.split(",") if p.strip())
    return out


class AggregateMultiTenancyIsolation(BaseFilter):
    name = "AggregateMultiTenancyIsolation"

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        if not host.aggregate_metadata:
            return True
        tenants = allowed_tenants(host.aggregate_metadata)
        return tenants is None or spec.project_id in tenants

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        passes = self.passes
        return [h for h in hosts if not h.aggregate_metadata or passes(h, spec)]
