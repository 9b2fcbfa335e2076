"""PciPassthroughFilter: hosts with enough free devices of the flavor's alias pass;
aliases come from [pci] alias through the scheduler's config."""

from __future__ import annotations

from stackbox.compute import pci
from stackbox.scheduler import filter_registry
from stackbox.scheduler.filters_pci import PciPassthroughFilter
from stackbox.scheduler.hoststate import HostState, RequestSpec

GPU = '{"name": "gpu", "vendor_id": "10de", "product_id": "1eb8"}'


def view(name: str, free_gpus: int) -> HostState:
    pools = {("10de", "1eb8", "type-PCI"): free_gpus} if free_gpus else {}
    return HostState(1, name, name, 8, 8192, 100, 32.0, 8192.0, 100.0, pci_pools=pools)


def spec(alias: str | None) -> RequestSpec:
    extra = {"pci_passthrough:alias": alias} if alias else {}
    flavor = {"vcpus": 1, "memory_mb": 512, "root_gb": 1, "extra_specs": extra}
    return RequestSpec.from_dict({"flavor": flavor})


def make() -> PciPassthroughFilter:
    f = filter_registry.load_filters("PciPassthroughFilter")[0]
    assert isinstance(f, PciPassthroughFilter)
    f.aliases = pci.parse_aliases([GPU])
    return f


def test_hosts_with_enough_free_devices_pass() -> None:
    f = make()
    hosts = [view("none", 0), view("one", 1), view("two", 2)]
    assert [h.host for h in f.filter_all(hosts, spec("gpu:2"))] == ["two"]
    assert f.passes(view("one", 1), spec("gpu:1"))


def test_no_request_skips_and_unknown_alias_matches_nothing() -> None:
    f = make()
    assert not f.applies(spec(None))
    assert f.filter_all([view("two", 2)], spec("nic:1")) == []
