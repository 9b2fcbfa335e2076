"""Every scheduler filter by name: one explicit list, read by `load_filters` for
`[scheduler] enabled_filters`. A new filter class is added to `FILTERS` here;
tests/scheduler/test_filter_registry.py fails when a BaseFilter subclass is missing."""

from __future__ import annotations

from collections.abc import Iterable

from stackbox.scheduler.filters import (
    AvailabilityZoneFilter,
    BaseFilter,
    ComputeCapabilitiesFilter,
    ComputeFilter,
    ImagePropertiesFilter,
    ResourceFilter,
)
from stackbox.scheduler.filters_aggregates import (
    AggregateInstanceExtraSpecsFilter,
    AggregateMultiTenancyIsolation,
)
from stackbox.scheduler.filters_groups import (
    ServerGroupAffinityFilter,
    ServerGroupAntiAffinityFilter,
)
from stackbox.scheduler.filters_numa import NUMATopologyFilter
from stackbox.scheduler.filters_pci import PciPassthroughFilter

FILTERS: dict[str, type[BaseFilter]] = {
    cls.name: cls
    for cls in (
        ComputeFilter,
        AvailabilityZoneFilter,
        ComputeCapabilitiesFilter,
        ImagePropertiesFilter,
        ResourceFilter,
        AggregateInstanceExtraSpecsFilter,
        AggregateMultiTenancyIsolation,
        ServerGroupAffinityFilter,
        ServerGroupAntiAffinityFilter,
        NUMATopologyFilter,
        PciPassthroughFilter,
    )
}


def load_filters(names: str | Iterable[str]) -> list[BaseFilter]:
    """Filter instances for a comma-separated list (or iterable) of names, in order.
    An unknown name is a configuration error (ValueError naming it)."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",")]
    out = []
    for n in names:
        if not n:
            continue
        if n not in FILTERS:
            known = ", ".join(sorted(FILTERS))
            raise ValueError(f"unknown scheduler filter {n!r} (known: {known})")
        out.append(FILTERS[n]())
    return out
