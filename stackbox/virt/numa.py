"""Guest NUMA placement: the host's topology from libvirt capabilities, a guest's NUMA /
pinning / huge page request from flavor extra specs and image properties, and the fit
of one onto the other's free cells.

Pure: XML text and dicts in, dicts out. The scheduler filter (scheduler/filters_numa.py)
asks `fit` whether a host could take a guest; the claim (scheduler/claims.py) asks it
again under the node's row lock against the node's allocations and records the answer.
No database, no libvirt connection, no domain XML here.

Shapes (JSON-able, stored as they are):
- host topology (compute_nodes.numa_topology): {"cells": [{"id", "cpus": [..],
  "siblings": [[..]], "memory_mb", "pages": [{"size_kb", "total", "free"}]}]}
- placement (allocations.details / instances.numa_topology): {"dedicated": bool,
  "cells": [{"id": host cell, "guest_id", "vcpus": [guest cpus], "cpus": [host cpus
  pinned, one per vcpu, or [] when shared], "cpuset": [host cpus the cell may use],
  "reserved": [host cpus taken beyond "cpus" (isolate)], "memory_mb", "page_size_kb"}]}
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import permutations
from typing import Any

SMALL_PAGE_KB = 4
_MAX_PERMUTED_CELLS = 8  # beyond this many host cells, try cells in order only


class InvalidNumaRequest(ValueError):
    """Extra specs / image properties that cannot describe a guest (a 400 at create)."""


# --- host topology --------------------------------------------------------------------
def parse_capabilities(xml: str) -> dict[str, Any]:
    """compute_nodes.numa_topology from `virConnectGetCapabilities` XML ({} when the
    host reports no NUMA cells)."""
    root = ET.fromstring(xml)
    cells = []
    for cell in root.findall("host/topology/cells/cell"):
        mem = cell.find("memory")
        memory_kib = int(mem.text or 0) if mem is not None else 0
        if mem is not None and mem.get("unit", "KiB").lower() in ("mib", "m"):
            memory_kib *= 1024
        cpus: list[int] = []
        siblings: list[list[int]] = []
        for cpu in cell.findall("cpus/cpu"):
            cid = int(cpu.get("id", "0"))
            cpus.append(cid)
            sib = sorted(parse_cpuset(cpu.get("siblings") or str(cid)))
            if sib not in siblings:
                siblings.append(sib)
        pages = [
            {
                "size_kb": int(p.get("size", "4")),
                "total": int(p.text or 0),
                "free": int(p.text or 0),
            }
            for p in cell.findall("pages")
        ]
        cells.append(
            {
                "id": int(cell.get("id", "0")),
                "cpus": sorted(cpus),
                "siblings": siblings,
                "memory_mb": memory_kib // 1024,
                "pages": pages,
            }
        )
    return {"cells": cells} if cells else {}


def parse_cpuset(text: str) -> set[int]:
    """libvirt's cpuset syntax: "0-3,^2,8" → {0, 1, 3, 8}."""
    out: set[int] = set()
    drop: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        target = drop if part.startswith("^") else out
        part = part.lstrip("^")
        lo, _, hi = part.partition("-")
        target.update(range(int(lo), int(hi or lo) + 1))
    return out - drop


def format_cpuset(cpus: Iterable[int]) -> str:
    """{0, 1, 2, 5} → "0-2,5"."""
    ordered = sorted(set(cpus))
    runs: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        runs.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(runs)


# --- guest request --------------------------------------------------------------------
@dataclass(frozen=True)
class CellRequest:
    vcpus: tuple[int, ...]
    memory_mb: int


@dataclass(frozen=True)
class NumaRequest:
    cells: tuple[CellRequest, ...]
    dedicated: bool = False
    thread_policy: str = "prefer"  # prefer | isolate | require
    page_size: str | None = None  # None (small, unchecked) | small | large | any | "<kb>"


def _spec(extra: Mapping[str, Any], image: Mapping[str, Any], key: str) -> str | None:
    """The flavor's hw:KEY or the image's hw_KEY; both set and different → 400."""
    fv = extra.get(f"hw:{key}")
    iv = image.get(f"hw_{key}")
    fv = None if fv in (None, "") else str(fv).strip()
    iv = None if iv in (None, "") else str(iv).strip()
    if fv is not None and iv is not None and fv.lower() != iv.lower():
        raise InvalidNumaRequest(
            f"Flavor hw:{key}={fv} conflicts with image property hw_{key}={iv}"
        )
    return iv if fv is None else fv


def page_size_kb(value: str) -> int:
    """ "2048", "2MB", "1GB", "2048KB" → KiB. InvalidNumaRequest otherwise."""
    m = re.fullmatch(r"(\d+)\s*(kb|k|kib|mb|m|mib|gb|g|gib)?", value.strip().lower())
    if not m or int(m.group(1)) <= 0:
        raise InvalidNumaRequest(f"Invalid memory page size '{value}'")
    factor = {"m": 1024, "g": 1024 * 1024}.get((m.group(2) or "k")[0], 1)
    return int(m.group(1)) * factor


def parse_request(
    vcpus: int, memory_mb: int, extra: Mapping[str, Any], image: Mapping[str, Any]
) -> NumaRequest | None:
    """The guest's NUMA request, or None for a plain guest (no NUMA nodes, no pinning,
    no page size). Raises InvalidNumaRequest with a message fit for a 400."""
    policy = (_spec(extra, image, "cpu_policy") or "shared").lower()
    if policy not in ("shared", "dedicated", "mixed"):
        raise InvalidNumaRequest(f"Invalid hw:cpu_policy '{policy}'")
    if policy == "mixed":
        raise InvalidNumaRequest("hw:cpu_policy=mixed is not supported")
    thread = _spec(extra, image, "cpu_thread_policy")
    if thread is not None:
        thread = thread.lower()
        if thread not in ("prefer", "isolate", "require"):
            raise InvalidNumaRequest(f"Invalid hw:cpu_thread_policy '{thread}'")
        if policy != "dedicated":
            raise InvalidNumaRequest(
                "Cannot set cpu thread pinning policy in a non dedicated cpu pinning policy"
            )
    page = _spec(extra, image, "mem_page_size")
    if page is not None:
        page = page.lower()
        if page not in ("small", "large", "any"):
            page = str(page_size_kb(page))
    nodes_raw = _spec(extra, image, "numa_nodes")
    if nodes_raw is None and policy == "shared" and page is None:
        return None
    try:
        nodes = int(nodes_raw) if nodes_raw is not None else 1
    except ValueError:
        raise InvalidNumaRequest(f"Invalid hw:numa_nodes '{nodes_raw}'") from None
    if nodes < 1 or nodes > max(vcpus, 1):
        raise InvalidNumaRequest(
            f"hw:numa_nodes={nodes} must be between 1 and the flavor's {vcpus} vCPUs"
        )
    cells = _cells(vcpus, memory_mb, nodes, extra, image)
    return NumaRequest(cells, policy == "dedicated", thread or "prefer", page)


def _cells(
    vcpus: int, memory_mb: int, nodes: int, extra: Mapping[str, Any], image: Mapping[str, Any]
) -> tuple[CellRequest, ...]:
    cpu_specs = [_spec(extra, image, f"numa_cpus.{n}") for n in range(nodes)]
    mem_specs = [_spec(extra, image, f"numa_mem.{n}") for n in range(nodes)]
    if not any(cpu_specs) and not any(mem_specs):
        if vcpus % nodes or memory_mb % nodes:
            raise InvalidNumaRequest(
                f"{vcpus} vCPUs and {memory_mb} MB cannot be split evenly over {nodes} "
                "NUMA nodes; set hw:numa_cpus.N and hw:numa_mem.N"
            )
        per_cpu, per_mem = vcpus // nodes, memory_mb // nodes
        return tuple(
            CellRequest(tuple(range(n * per_cpu, (n + 1) * per_cpu)), per_mem) for n in range(nodes)
        )
    if not all(cpu_specs) or not all(mem_specs):
        raise InvalidNumaRequest(
            f"hw:numa_cpus.N and hw:numa_mem.N must be set for every N below {nodes}"
        )
    seen: set[int] = set()
    out = []
    for cpu_text, mem_text in zip(cpu_specs, mem_specs, strict=True):
        try:
            cpus = parse_cpuset(str(cpu_text))
            mem = int(str(mem_text))
        except ValueError:
            raise InvalidNumaRequest(f"Invalid NUMA cell '{cpu_text}' / '{mem_text}'") from None
        if seen & cpus or not cpus or mem <= 0:
            raise InvalidNumaRequest("NUMA cells must be non-empty and must not share vCPUs")
        seen |= cpus
        out.append(CellRequest(tuple(sorted(cpus)), mem))
    if seen != set(range(vcpus)):
        raise InvalidNumaRequest(f"hw:numa_cpus.N must assign each of the {vcpus} vCPUs once")
    if sum(c.memory_mb for c in out) != memory_mb:
        raise InvalidNumaRequest(
            f"hw:numa_mem.N must add up to the flavor's memory of {memory_mb} MB"
        )
    return tuple(out)


# --- usage and fitting ----------------------------------------------------------------
@dataclass
class CellUsage:
    pinned: set[int]
    memory_mb: int = 0  # small-page memory taken by NUMA guests
    pages: dict[int, int] | None = None  # huge page size_kb → pages taken


def usage_from(details: Iterable[Mapping[str, Any] | None]) -> dict[int, CellUsage]:
    """Per host cell, what the placements in `details` (allocations.details) hold."""
    out: dict[int, CellUsage] = {}
    for d in details:
        for cell in (d or {}).get("cells") or []:
            u = out.setdefault(int(cell["id"]), CellUsage(set(), 0, {}))
            u.pinned.update(cell.get("cpus") or [])
            u.pinned.update(cell.get("reserved") or [])
            size = int(cell.get("page_size_kb") or SMALL_PAGE_KB)
            if size == SMALL_PAGE_KB:
                u.memory_mb += int(cell.get("memory_mb") or 0)
            else:
                assert u.pages is not None
                u.pages[size] = u.pages.get(size, 0) + int(cell["memory_mb"]) * 1024 // size
    return out


def _page_choices(page: str | None, host_cell: Mapping[str, Any]) -> list[int]:
    huge = sorted(
        (int(p["size_kb"]) for p in host_cell.get("pages") or [] if p["size_kb"] > SMALL_PAGE_KB),
        reverse=True,
    )
    if page in (None, "small"):
        return [SMALL_PAGE_KB]
    if page == "large":
        return huge
    if page == "any":
        return [*huge, SMALL_PAGE_KB]
    return [int(str(page))]


def _fit_memory(
    want_mb: int, page: str | None, host_cell: Mapping[str, Any], used: CellUsage
) -> int | None:
    """The page size (KiB) the cell can back `want_mb` with, or None."""
    for size in _page_choices(page, host_cell):
        if size == SMALL_PAGE_KB:
            small = [p for p in host_cell.get("pages") or [] if p["size_kb"] == SMALL_PAGE_KB]
            free_mb = (
                small[0]["free"] * SMALL_PAGE_KB // 1024 if small else host_cell["memory_mb"]
            ) - used.memory_mb
            if page is None or free_mb >= want_mb:  # plain NUMA guests: RAM is overcommitted
                return SMALL_PAGE_KB
            continue
        if (want_mb * 1024) % size:
            continue
        pool = [p for p in host_cell.get("pages") or [] if int(p["size_kb"]) == size]
        taken = (used.pages or {}).get(size, 0)
        if pool and pool[0]["free"] - taken >= want_mb * 1024 // size:
            return size
    return None


def _pick_cpus(
    n: int, policy: str, host_cell: Mapping[str, Any], pinned: set[int]
) -> tuple[list[int], list[int]] | None:
    """`n` free host CPUs of the cell under the thread policy, and the siblings reserved
    with them (isolate); None if they are not there."""
    groups = [list(g) for g in host_cell.get("siblings") or [[c] for c in host_cell["cpus"]]]
    smt = any(len(g) > 1 for g in groups)
    whole = [g for g in groups if not pinned & set(g)]
    if policy == "isolate":
        if len(whole) < n:
            return None
        chosen = [g[0] for g in whole[:n]]
        reserved = [c for g in whole[:n] for c in g[1:]]
        return chosen, reserved
    if policy == "require":
        if not smt:
            return None
        free = [c for g in whole for c in g]
    else:  # prefer: fill whole free cores first, then half-used ones
        partial = [[c for c in g if c not in pinned] for g in groups if pinned & set(g)]
        free = [c for g in whole for c in g] + [c for g in partial for c in g]
    return (free[:n], []) if len(free) >= n else None


def _fit_cell(
    req: NumaRequest, cell: CellRequest, host_cell: Mapping[str, Any], used: CellUsage
) -> dict[str, Any] | None:
    n = len(cell.vcpus)
    free_cpus = [c for c in host_cell["cpus"] if c not in used.pinned]
    if n > len(host_cell["cpus"]):
        return None
    size = _fit_memory(cell.memory_mb, req.page_size, host_cell, used)
    if size is None:
        return None
    pins: list[int] = []
    reserved: list[int] = []
    if req.dedicated:
        got = _pick_cpus(n, req.thread_policy, host_cell, used.pinned)
        if got is None:
            return None
        pins, reserved = got
    return {
        "id": int(host_cell["id"]),
        "vcpus": list(cell.vcpus),
        "cpus": pins,
        "cpuset": pins or free_cpus or list(host_cell["cpus"]),
        "reserved": reserved,
        "memory_mb": cell.memory_mb,
        "page_size_kb": size,
    }


def could_fit(
    topology: Mapping[str, Any] | None,
    req: NumaRequest,
    usage: Mapping[int, CellUsage] | None = None,
) -> bool:
    """A cheap necessary condition of `fit` (never False where `fit` would place the
    guest): enough host cells, every guest cell has some host cell with enough CPUs
    (free ones when dedicated) and memory, and the free CPUs add up. The scheduler's
    filter uses it on every host; the exact `fit` runs on the host it picks."""
    host_cells = (topology or {}).get("cells") or []
    if len(req.cells) > len(host_cells):
        return False
    usage = usage or {}
    room = []
    for hc in host_cells:
        used = usage.get(int(hc["id"]))
        cpus = len(hc["cpus"])
        if req.dedicated and used is not None:
            cpus -= len(used.pinned)
        room.append((cpus, int(hc.get("memory_mb") or 0)))
    if req.dedicated and sum(len(c.vcpus) for c in req.cells) > sum(r[0] for r in room):
        return False
    return all(
        any(len(c.vcpus) <= cpus and c.memory_mb <= mem for cpus, mem in room) for c in req.cells
    )


def fit(
    topology: Mapping[str, Any] | None,
    req: NumaRequest,
    usage: Mapping[int, CellUsage] | None = None,
) -> dict[str, Any] | None:
    """Place each guest cell on a distinct host cell with room for it, or None. Tries
    host cells in order, then other orders (small hosts) before giving up."""
    host_cells = list((topology or {}).get("cells") or [])
    if len(req.cells) > len(host_cells):
        return None
    usage = usage or {}
    empty = CellUsage(set(), 0, {})
    orders: Iterable[tuple[Any, ...]] = (
        permutations(host_cells, len(req.cells))
        if len(host_cells) <= _MAX_PERMUTED_CELLS
        else [tuple(host_cells[: len(req.cells)])]
    )
    for order in orders:
        placed = []
        for gid, (cell, host_cell) in enumerate(zip(req.cells, order, strict=True)):
            got = _fit_cell(req, cell, host_cell, usage.get(int(host_cell["id"]), empty))
            if got is None:
                break
            got["guest_id"] = gid
            placed.append(got)
        else:
            return {"dedicated": req.dedicated, "cells": placed}
    return None
