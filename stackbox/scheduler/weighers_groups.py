"""Weighers of the soft server-group policies: ServerGroupSoftAffinityWeigher
("soft-affinity": hosts holding more members of the group weigh more) and
ServerGroupSoftAntiAffinityWeigher ("soft-anti-affinity": fewer members weigh more).
Each value is normalised to 0..1 over the candidates and multiplied by
`[scheduler] soft_affinity_weight_multiplier` / `soft_anti_affinity_weight_multiplier`,
as Nova does. Pure: hosts and the request's group in, one weight per host out.
"""

from __future__ import annotations

from collections.abc import Sequence

from stackbox.scheduler.hoststate import HostState, RequestSpec
from stackbox.scheduler.weighers import normalise

SOFT_AFFINITY = "soft-affinity"
SOFT_ANTI_AFFINITY = "soft-anti-affinity"


def member_counts(hosts: Sequence[HostState], spec: RequestSpec) -> list[int]:
    members = (spec.group or {}).get("hosts") or []
    counts: dict[str, int] = {}
    for h in members:
        counts[h] = counts.get(h, 0) + 1
    return [counts.get(h.host, 0) for h in hosts]


def group_weights(
    hosts: Sequence[HostState], spec: RequestSpec, affinity_mult: float, anti_mult: float
) -> list[float] | None:
    """Extra weight per host for a soft group policy, or None when none applies."""
    policy = (spec.group or {}).get("policy")
    if policy not in (SOFT_AFFINITY, SOFT_ANTI_AFFINITY) or not hosts:
        return None
    counts = [float(c) for c in member_counts(hosts, spec)]
    if policy == SOFT_AFFINITY:
        return [affinity_mult * v for v in normalise(counts)]
    return [anti_mult * v for v in normalise([-c for c in counts])]
