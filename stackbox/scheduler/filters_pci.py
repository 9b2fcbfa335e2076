"""PciPassthroughFilter: the host has free PCI devices for every alias the flavor's
`pci_passthrough:alias` asks for (seed 002 §5.4.15).

Pure: reads HostState.pci_pools and the RequestSpec; the aliases come from `[pci] alias`
through `configure(cfg)` (the manager calls it once). Devices are taken by the claim.
"""

from __future__ import annotations

from typing import Any

from stackbox.compute import pci
from stackbox.scheduler.filters import BaseFilter
from stackbox.scheduler.hoststate import HostState, RequestSpec

ALIAS_SPEC = "pci_passthrough:alias"


def pci_request(spec: RequestSpec, aliases: dict[str, pci.Alias]) -> list[tuple[pci.Alias, int]]:
    """The spec's PCI request ([] when none). Raises pci.InvalidPciRequest."""
    return pci.parse_request(spec.extra_specs.get(ALIAS_SPEC), aliases)


class PciPassthroughFilter(BaseFilter):
    """Hosts with enough free devices of each requested alias."""

    name = "PciPassthroughFilter"

    def __init__(self) -> None:
        self.aliases: dict[str, pci.Alias] = {}

    def configure(self, cfg: Any) -> None:
        self.aliases = pci.parse_aliases(cfg.get("pci", "alias"))

    def applies(self, spec: RequestSpec) -> bool:
        return bool(spec.extra_specs.get(ALIAS_SPEC))

    def _request(self, spec: RequestSpec) -> list[tuple[pci.Alias, int]] | None:
        try:
            return pci_request(spec, self.aliases)
        except pci.InvalidPciRequest:
            return None  # an unknown alias: no host can serve it

    def passes(self, host: HostState, spec: RequestSpec) -> bool:
        req = self._request(spec)
        return req is not None and pci.request_fits(req, host.pci_pools)

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        req = self._request(spec)
        if req is None:
            return []
        return [h for h in hosts if pci.request_fits(req, h.pci_pools)]
