"""The placement part of the guest: the claim's NUMA cells, pinned host CPUs, huge pages
and PCI devices (InstanceSpec.numa_topology, the shape virt/numa.py documents) rendered
as `<cputune><vcpupin>`, `<numatune>`, `<cpu><numa>`, `<memoryBacking>` and `<hostdev>`.

Pure: a placement in, the domain changed in place. Deciding the placement is the
scheduler's (virt/numa.py, scheduler/claims.py); the XML shapes live in config_numa.py.
"""

from __future__ import annotations

from typing import Any

from stackbox.virt import config
from stackbox.virt.numa import SMALL_PAGE_KB, format_cpuset


def apply_placement(domain: config.Domain, placement: dict[str, Any] | None) -> config.Domain:
    """Shape `domain` after `placement` ({} or None: a plain guest, left alone)."""
    cells = list((placement or {}).get("cells") or [])
    if cells:
        _numa(domain, cells)
    for dev in (placement or {}).get("pci") or []:
        domain.devices.hostdevs.append(config.HostDevPCI(dev["address"]))
    return domain


def _numa(domain: config.Domain, cells: list[dict[str, Any]]) -> None:
    pins: list[config.VCPUPin] = []
    host_cpus: set[int] = set()
    guest_cells = []
    memnodes = []
    pages = []
    for cell in sorted(cells, key=lambda c: int(c.get("guest_id", 0))):
        gid, hid = int(cell.get("guest_id", 0)), int(cell["id"])
        vcpus = [int(v) for v in cell["vcpus"]]
        pinned = [int(c) for c in cell.get("cpus") or []]
        if pinned:  # dedicated: one host CPU per vCPU
            pins.extend(config.VCPUPin(v, str(p)) for v, p in zip(vcpus, pinned, strict=True))
            host_cpus.update(pinned)
        else:  # shared: the vCPUs float over their host cell's CPUs
            cpuset = format_cpuset(int(c) for c in cell.get("cpuset") or [])
            if cpuset:
                pins.extend(config.VCPUPin(v, cpuset) for v in vcpus)
                host_cpus.update(int(c) for c in cell["cpuset"])
        guest_cells.append(
            config.NUMACell(gid, format_cpuset(vcpus), int(cell["memory_mb"]) * 1024)
        )
        memnodes.append(config.MemNode(gid, "strict", str(hid)))
        size = int(cell.get("page_size_kb") or SMALL_PAGE_KB)
        if size != SMALL_PAGE_KB:
            pages.append(config.HugePage(size, str(gid)))
    tune = domain.cputune or config.CPUTune()  # keeps quota:cpu_* (hardware.py) if set
    tune.vcpupins = pins
    tune.emulatorpin = format_cpuset(host_cpus) if host_cpus else None
    domain.cputune = tune
    domain.numatune = config.NUMATune(
        "strict", format_cpuset(int(c["id"]) for c in cells), memnodes
    )
    if domain.cpu is None:
        domain.cpu = config.CPU()
    domain.cpu.numa_cells = guest_cells
    if pages:
        domain.memory_backing = config.MemoryBacking(pages)
