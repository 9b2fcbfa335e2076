"""Host weighers: free RAM, free vCPUs and free disk, each normalised to 0..1 over
the candidate hosts and multiplied by its `[scheduler] *_weight_multiplier`. A
positive multiplier spreads (the emptiest host wins), a negative one packs.

Pure: hosts in, ordered hosts out. `pick` applies `host_subset_size` with the random
generator it is given, so tests can seed it.
"""

from __future__ import annotations

import heapq
import operator
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stackbox.scheduler.hoststate import HostState


@dataclass(frozen=True)
class Weigher:
    """Weighs a host by `limit - used` of one resource (what is still free to sell)."""

    name: str
    limit: str
    used: str
    _get: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_get", operator.attrgetter(self.limit, self.used))

    def values(self, hosts: Sequence[HostState]) -> list[float]:
        return [lim - used for lim, used in map(self._get, hosts)]


RAM = Weigher("RAMWeigher", "memory_mb_limit", "memory_mb_used")
CPU = Weigher("CPUWeigher", "vcpus_limit", "vcpus_used")
DISK = Weigher("DiskWeigher", "disk_gb_limit", "local_gb_used")
WEIGHERS = (RAM, CPU, DISK)


def normalise(values: Sequence[float]) -> list[float]:
    """Map values linearly onto 0..1 (all 0.0 when they are all equal)."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    if hi == lo:
        return [0.0] * len(values)
    span = hi - lo
    return [(v - lo) / span for v in values]


def weigh(hosts: Sequence[HostState], multipliers: Sequence[tuple[Weigher, float]]) -> list[float]:
    """One weight per host (same order): sum of multiplier * normalised value."""
    total = [0.0] * len(hosts)
    for weigher, mult in multipliers:
        if not mult or not hosts:
            continue
        vals = weigher.values(hosts)
        lo, hi = min(vals), max(vals)
        if hi == lo:
            continue
        scale = mult / (hi - lo)
        total = [t + (v - lo) * scale for t, v in zip(total, vals, strict=True)]
    return total


def ranked(
    hosts: Sequence[HostState], multipliers: Sequence[tuple[Weigher, float]]
) -> list[HostState]:
    """Hosts best first (ties keep the input order)."""
    weights = weigh(hosts, multipliers)
    order = sorted(range(len(hosts)), key=lambda i: -weights[i])
    return [hosts[i] for i in order]


def pick(ranked_hosts: Sequence[HostState], subset_size: int, rng: random.Random) -> int:
    """Index of the host to try first: a random one among the `subset_size` best."""
    n = min(max(1, subset_size), len(ranked_hosts))
    return 0 if n <= 1 else rng.randrange(n)


def choose(weights: Sequence[float], subset_size: int, rng: random.Random) -> int:
    """Like `pick` on unsorted hosts: the index of a random one among the
    `subset_size` heaviest (the first heaviest when subset_size is 1). No full sort."""
    if not weights:
        raise ValueError("no hosts to choose from")
    n = min(max(1, subset_size), len(weights))
    if n == 1:
        return max(range(len(weights)), key=weights.__getitem__)
    top = heapq.nlargest(n, range(len(weights)), key=weights.__getitem__)
    return top[rng.randrange(n)]
