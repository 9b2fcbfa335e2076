"""NUMATopologyFilter: the guest's NUMA cells, dedicated CPUs and huge pages fit the
host's free NUMA cells (virt/numa.py does the fitting).

Pure: reads HostState.numa_topology / numa_usage and the RequestSpec. The claim
re-checks the same fit under the node's row lock (scheduler/claims.py), so a view a
little out of date costs a retry, never a shared pCPU.
"""

from __future__ import annotations

from stackbox.scheduler.filters import BaseFilter
from stackbox.scheduler.hoststate import HostState, RequestSpec
from stackbox.virt import numa


def numa_request(spec: RequestSpec) -> numa.NumaRequest | None:
    """The spec's NUMA request (None: a plain guest, or one the API should have refused
    as invalid -- the filter then lets the claim decide). Parsed once per spec: the
    filter, the placement and the claim all ask."""
    cached = spec.__dict__.get("_numa_request", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[no-any-return]
    try:
        req = numa.parse_request(spec.vcpus, spec.memory_mb, spec.extra_specs, spec.image_props)
    except numa.InvalidNumaRequest:
        req = None
    spec.__dict__["_numa_request"] = req
    return req


_UNSET = object()


class NUMATopologyFilter(BaseFilter):
    """Hosts whose free NUMA cells can take the guest's cells."""

    name = "NUMATopologyFilter"

    def applies(self, spec: RequestSpec) -> bool:
        return numa_request(spec) is not None

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        req = numa_request(spec)
        return req is None or numa.fit(host.numa_topology, req, host.numa_usage) is not None

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        """Every host by the cheap necessary check; the scheduler runs the exact fit on
        the host it picks before claiming (a miss moves on to the next host)."""
        req = numa_request(spec)
        if req is None:
            return hosts
        return [h for h in hosts if numa.could_fit(h.numa_topology, req, h.numa_usage)]
