"""NUMATopologyFilter: hosts whose free NUMA cells fit the guest pass; the rest (and
hosts reporting no cells) do not; plain guests skip the filter."""

from __future__ import annotations

from typing import Any

from stackbox.scheduler import filter_registry
from stackbox.scheduler.filters_numa import NUMATopologyFilter
from stackbox.scheduler.hoststate import HostState, RequestSpec
from stackbox.virt import numa
from tests.virt.test_numa import host as topology


def view(name: str, topo: dict[str, Any], usage: dict | None = None) -> HostState:
    return HostState(
        1, name, name, 8, 8192, 100, 32.0, 8192.0, 100.0, numa_topology=topo, numa_usage=usage or {}
    )


def spec(vcpus: int, mem: int, **extra: str) -> RequestSpec:
    return RequestSpec.from_dict(
        {"flavor": {"vcpus": vcpus, "memory_mb": mem, "root_gb": 1, "extra_specs": extra}}
    )


def test_registered_by_name() -> None:
    assert isinstance(filter_registry.load_filters("NUMATopologyFilter")[0], NUMATopologyFilter)


def test_plain_guests_skip_the_filter() -> None:
    f = NUMATopologyFilter()
    assert not f.applies(spec(2, 1024))
    assert f.passes(view("flat", {}), spec(2, 1024))


def test_dedicated_guest_needs_free_cpus_in_one_cell() -> None:
    f = NUMATopologyFilter()
    s = spec(4, 1024, **{"hw:cpu_policy": "dedicated"})
    small = view("small", topology(cells=2, cores=2))
    big = view("big", topology(cells=2, cores=4))
    flat = view("flat", {})
    full = view("full", topology(cells=1, cores=4), usage={0: numa.CellUsage({0, 1}, 0, {})})
    assert f.applies(s)
    assert [h.host for h in f.filter_all([small, big, flat, full], s)] == ["big"]


def test_numa_nodes_and_huge_pages() -> None:
    f = NUMATopologyFilter()
    two = spec(2, 1024, **{"hw:numa_nodes": "2"})
    assert f.passes(view("two", topology(cells=2)), two)
    assert not f.passes(view("one", topology(cells=1)), two)
    huge = spec(1, 1024, **{"hw:mem_page_size": "large"})
    assert f.passes(view("pages", topology(cells=1, pages_2m=512)), huge)
    assert not f.passes(view("nopages", topology(cells=1)), huge)
