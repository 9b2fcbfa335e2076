"""virt/numa.py: host topology from capabilities (the test driver's and injected ones),
guest requests from extra specs / image properties, and fitting with pinning, thread
policies and huge pages."""

from __future__ import annotations

from typing import Any

import libvirt
import pytest

from stackbox.virt import numa


def host(
    cells: int = 2, cores: int = 4, threads: int = 1, mem_mb: int = 4096, pages_2m: int = 0
) -> dict[str, Any]:
    """An injected topology: `cells` cells of `cores` cores x `threads` threads."""
    out = []
    cpu = 0
    for c in range(cells):
        sibs = []
        for _ in range(cores):
            sibs.append(list(range(cpu, cpu + threads)))
            cpu += threads
        huge_mb = pages_2m * 2
        out.append(
            {
                "id": c,
                "cpus": [x for s in sibs for x in s],
                "siblings": sibs,
                "memory_mb": mem_mb,
                "pages": [
                    {
                        "size_kb": 4,
                        "total": (mem_mb - huge_mb) * 256,
                        "free": (mem_mb - huge_mb) * 256,
                    },
                    {"size_kb": 2048, "total": pages_2m, "free": pages_2m},
                ],
            }
        )
    return {"cells": out}


def req(vcpus: int = 2, mem: int = 1024, **specs: str) -> numa.NumaRequest:
    extra = {k.replace("__", ":").replace("_DOT_", "."): v for k, v in specs.items()}
    r = numa.parse_request(vcpus, mem, extra, {})
    assert r is not None
    return r


def test_test_driver_capabilities_give_two_cells() -> None:
    conn = libvirt.open("test:///default")
    try:
        topo = numa.parse_capabilities(conn.getCapabilities())
    finally:
        conn.close()
    cells = topo["cells"]
    assert [c["id"] for c in cells] == [0, 1]
    assert cells[0]["cpus"] == list(range(8)) and cells[1]["cpus"] == list(range(8, 16))
    assert cells[0]["memory_mb"] == 2048 and cells[1]["memory_mb"] == 4096
    assert {"size_kb": 2048, "total": 0, "free": 0} in cells[0]["pages"]


def test_capabilities_with_hyperthreads_and_huge_pages() -> None:
    xml = """<capabilities><host><topology><cells num='1'><cell id='0'>
      <memory unit='KiB'>8388608</memory>
      <pages unit='KiB' size='4'>1048576</pages><pages unit='KiB' size='2048'>512</pages>
      <cpus num='4'><cpu id='0' siblings='0,2'/><cpu id='1' siblings='1,3'/>
      <cpu id='2' siblings='0,2'/><cpu id='3' siblings='1,3'/></cpus>
    </cell></cells></topology></host></capabilities>"""
    cell = numa.parse_capabilities(xml)["cells"][0]
    assert cell["siblings"] == [[0, 2], [1, 3]]
    assert cell["memory_mb"] == 8192
    assert {"size_kb": 2048, "total": 512, "free": 512} in cell["pages"]


def test_no_numa_cells_is_an_empty_topology() -> None:
    assert numa.parse_capabilities("<capabilities><host/></capabilities>") == {}


def test_cpuset_round_trip() -> None:
    assert numa.parse_cpuset("0-3,^2,8") == {0, 1, 3, 8}
    assert numa.format_cpuset([5, 0, 1, 2]) == "0-2,5"


def test_plain_guest_has_no_request() -> None:
    assert numa.parse_request(2, 1024, {}, {}) is None
    assert numa.parse_request(2, 1024, {"hw:cpu_policy": "shared"}, {}) is None


def test_numa_nodes_split_evenly_and_explicitly() -> None:
    r = req(4, 2048, hw__numa_nodes="2")
    assert [(c.vcpus, c.memory_mb) for c in r.cells] == [((0, 1), 1024), ((2, 3), 1024)]
    r2 = numa.parse_request(
        4,
        2048,
        {
            "hw:numa_nodes": "2",
            "hw:numa_cpus.0": "0",
            "hw:numa_cpus.1": "1-3",
            "hw:numa_mem.0": "512",
            "hw:numa_mem.1": "1536",
        },
        {},
    )
    assert r2 is not None
    assert [(c.vcpus, c.memory_mb) for c in r2.cells] == [((0,), 512), ((1, 2, 3), 1536)]


@pytest.mark.parametrize(
    ("vcpus", "mem", "extra", "message"),
    [
        (4, 2048, {"hw:numa_nodes": "5"}, "between 1 and"),
        (3, 2048, {"hw:numa_nodes": "2"}, "split evenly"),
        (4, 2048, {"hw:numa_nodes": "2", "hw:numa_cpus.0": "0-1"}, "every N"),
        (
            4,
            2048,
            {
                "hw:numa_nodes": "2",
                "hw:numa_cpus.0": "0-1",
                "hw:numa_cpus.1": "1-3",
                "hw:numa_mem.0": "1024",
                "hw:numa_mem.1": "1024",
            },
            "share",
        ),
        (
            4,
            2048,
            {
                "hw:numa_nodes": "2",
                "hw:numa_cpus.0": "0-1",
                "hw:numa_cpus.1": "2-3",
                "hw:numa_mem.0": "1024",
                "hw:numa_mem.1": "512",
            },
            "add up",
        ),
        (2, 1024, {"hw:cpu_thread_policy": "isolate"}, "non dedicated"),
        (2, 1024, {"hw:cpu_policy": "bogus"}, "Invalid hw:cpu_policy"),
        (2, 1024, {"hw:mem_page_size": "huge"}, "Invalid memory page size"),
    ],
)
def test_invalid_requests_are_refused(vcpus: int, mem: int, extra: dict, message: str) -> None:
    with pytest.raises(numa.InvalidNumaRequest, match=message):
        numa.parse_request(vcpus, mem, extra, {})


def test_image_property_counts_and_conflicts_with_flavor() -> None:
    r = numa.parse_request(2, 1024, {}, {"hw_cpu_policy": "dedicated"})
    assert r is not None and r.dedicated
    with pytest.raises(numa.InvalidNumaRequest, match="conflicts"):
        numa.parse_request(2, 1024, {"hw:cpu_policy": "shared"}, {"hw_cpu_policy": "dedicated"})


def test_dedicated_guests_get_distinct_host_cpus_until_the_host_is_full() -> None:
    topo = host(cells=2, cores=4)
    r = req(2, 512, hw__cpu_policy="dedicated")
    placements: list[dict[str, Any]] = []
    while (p := numa.fit(topo, r, numa.usage_from(placements))) is not None:
        placements.append(p)
    pins = [c for p in placements for cell in p["cells"] for c in cell["cpus"]]
    assert len(placements) == 4  # 8 host CPUs, 2 per guest
    assert sorted(pins) == list(range(8))


def test_guest_cells_land_on_distinct_host_cells() -> None:
    p = numa.fit(
        host(cells=2, cores=4), req(4, 2048, hw__numa_nodes="2", hw__cpu_policy="dedicated")
    )
    assert p is not None
    assert sorted(c["id"] for c in p["cells"]) == [0, 1]
    assert p["cells"][0]["cpus"] == [0, 1] and p["cells"][1]["cpus"] == [4, 5]
    assert numa.fit(host(cells=1, cores=8), req(4, 2048, hw__numa_nodes="2")) is None


def test_a_cell_too_small_for_the_guest_is_skipped() -> None:
    topo = host(cells=2, cores=2)
    r = req(3, 512, hw__cpu_policy="dedicated")
    assert numa.fit(topo, r) is None  # 3 vCPUs never fit one 2-CPU cell


def test_thread_policies() -> None:
    ht = host(cells=1, cores=4, threads=2)  # siblings [0,1] [2,3] [4,5] [6,7]
    isolate = numa.fit(ht, req(2, 512, hw__cpu_policy="dedicated", hw__cpu_thread_policy="isolate"))
    assert isolate is not None
    cell = isolate["cells"][0]
    assert cell["cpus"] == [0, 2] and cell["reserved"] == [1, 3]
    usage = numa.usage_from([isolate])
    assert usage[0].pinned == {0, 1, 2, 3}
    require = req(2, 512, hw__cpu_policy="dedicated", hw__cpu_thread_policy="require")
    placed = numa.fit(ht, require, usage)
    assert placed is not None and placed["cells"][0]["cpus"] == [4, 5]
    assert numa.fit(host(cells=1, cores=4, threads=1), require) is None  # no SMT


def test_prefer_fills_whole_cores_first() -> None:
    ht = host(cells=1, cores=2, threads=2)
    one = numa.fit(ht, req(1, 256, hw__cpu_policy="dedicated"))
    assert one is not None and one["cells"][0]["cpus"] == [0]
    two = numa.fit(ht, req(2, 256, hw__cpu_policy="dedicated"), numa.usage_from([one]))
    assert two is not None and two["cells"][0]["cpus"] == [2, 3]


def test_huge_pages_are_fitted_against_free_pages() -> None:
    topo = host(cells=1, cores=4, pages_2m=512)  # 1 GiB of 2 MiB pages
    r = req(1, 512, hw__mem_page_size="2MB")
    first = numa.fit(topo, r)
    assert first is not None and first["cells"][0]["page_size_kb"] == 2048
    second = numa.fit(topo, r, numa.usage_from([first]))
    assert second is not None
    assert numa.fit(topo, r, numa.usage_from([first, second])) is None  # pages gone
    large = numa.fit(topo, req(1, 512, hw__mem_page_size="large"))
    assert large is not None and large["cells"][0]["page_size_kb"] == 2048
    assert numa.fit(host(pages_2m=0), req(1, 512, hw__mem_page_size="large")) is None
    anyp = numa.fit(host(pages_2m=0), req(1, 512, hw__mem_page_size="any"))
    assert anyp is not None and anyp["cells"][0]["page_size_kb"] == 4


def test_host_without_topology_cannot_take_numa_guests() -> None:
    assert numa.fit({}, req(1, 512, hw__cpu_policy="dedicated")) is None


def test_could_fit_never_refuses_what_fit_places() -> None:
    """The scheduler's cheap check is a necessary condition of the exact fit."""
    import itertools

    host = {
        "cells": [
            {"id": 0, "cpus": [0, 1, 2, 3], "siblings": [[0, 1], [2, 3]], "memory_mb": 4096},
            {"id": 1, "cpus": [4, 5, 6, 7], "siblings": [[4, 5], [6, 7]], "memory_mb": 4096},
        ]
    }
    specs = [
        {},
        {"hw:cpu_policy": "dedicated"},
        {"hw:cpu_policy": "dedicated", "hw:numa_nodes": "2"},
        {"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "isolate"},
        {"hw:numa_nodes": "2"},
    ]
    pinned_sets = [set(), {0}, {0, 1, 2}, {0, 1, 2, 3, 4}, set(range(8))]
    for spec, vcpus, pinned in itertools.product(specs, (1, 2, 4, 6), pinned_sets):
        try:
            req = numa.parse_request(vcpus, 2048, spec, {})
        except numa.InvalidNumaRequest:
            continue
        if req is None:
            continue
        usage = {
            0: numa.CellUsage({c for c in pinned if c < 4}),
            1: numa.CellUsage({c for c in pinned if c >= 4}),
        }
        if numa.fit(host, req, usage) is not None:
            assert numa.could_fit(host, req, usage), (spec, vcpus, pinned)
    full = {0: numa.CellUsage(set(range(4))), 1: numa.CellUsage(set(range(4, 8)))}
    req = numa.parse_request(1, 512, {"hw:cpu_policy": "dedicated"}, {})
    assert req is not None and not numa.could_fit(host, req, full)
