"""Each filter on plain HostState / RequestSpec values (no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from stackbox.scheduler import filter_registry, filters
from stackbox.scheduler.hoststate import HostState, RequestSpec, host_state


def make_host(**kw: object) -> HostState:
    values: dict = {
        "node_id": 1,
        "host": "h1",
        "node": "h1",
        "vcpus_total": 4,
        "memory_mb_total": 8192,
        "local_gb_total": 100,
        "vcpus_limit": 16.0,
        "memory_mb_limit": 8192.0,
        "disk_gb_limit": 100.0,
        "supported_instances": [("x86_64", "qemu", "hvm")],
    }
    values.update(kw)
    return HostState(**values)


def spec(**kw: object) -> RequestSpec:
    base: dict = {"flavor": {"vcpus": 1, "memory_mb": 512, "root_gb": 1}}
    base.update(kw)
    return RequestSpec.from_dict(base)


def test_request_spec_disk_counts_ephemeral_and_swap_rounded_up() -> None:
    s = RequestSpec.from_dict(
        {"flavor": {"vcpus": 2, "memory_mb": 64, "root_gb": 10, "ephemeral_gb": 5, "swap": 1025}}
    )
    assert (s.vcpus, s.memory_mb, s.disk_gb) == (2, 64, 17)
    forced = RequestSpec.from_dict({"flavor": {}, "force_host": "cmp1:node-a"})
    assert (forced.force_host, forced.force_node) == ("cmp1", "node-a")
    zoned = RequestSpec.from_dict({"flavor": {}, "availability_zone": "az1:cmp2"})
    assert (zoned.availability_zone, zoned.force_host, zoned.force_node) == ("az1", "cmp2", None)
    bare = RequestSpec.from_dict({"flavor": {}, "availability_zone": ":cmp3:n3"})
    assert (bare.availability_zone, bare.force_host, bare.force_node) == (None, "cmp3", "n3")


def test_host_state_limits_zone_and_liveness() -> None:
    now = dt.datetime(2026, 1, 1, 12, 0, 0)
    row = {
        "id": 3, "host": "c1", "hypervisor_hostname": "c1.example", "vcpus": 4,
        "memory_mb": 4096, "local_gb": 10, "vcpus_used": 1, "memory_mb_used": 1000,
        "local_gb_used": 2, "cpu_allocation_ratio": 2.0, "ram_allocation_ratio": 1.5,
        "disk_allocation_ratio": 1.0, "reserved_host_memory_mb": 96, "reserved_host_disk_mb": 2048,
        "reserved_host_cpus": 1, "hypervisor_type": "QEMU", "hypervisor_version": 8002000,
        "cpu_info": {"arch": "x86_64"}, "supported_instances": [["AMD64", "QEMU", "hvm"]],
        "availability_zone": None, "running_vms": 2, "generation": 7,
    }  # fmt: skip
    svc = {"disabled": False, "forced_down": False, "last_seen_up": now - dt.timedelta(seconds=30)}
    h = host_state(row, svc, default_zone="zone-x", down_time=60, now=now)
    assert (h.free_vcpus, h.free_ram_mb, h.free_disk_gb) == (5.0, 5000.0, 6.0)
    assert h.availability_zone == "zone-x" and h.enabled and h.up
    assert h.supported_instances == [("x86_64", "qemu", "hvm")]
    late = host_state(row, svc, default_zone="z", down_time=10, now=now)
    assert late.up is False
    assert host_state(row, None, default_zone="z", down_time=60, now=now).up is False


def test_compute_filter_needs_enabled_and_up() -> None:
    f = filters.ComputeFilter()
    assert f.passes(make_host(), spec())
    assert not f.passes(make_host(enabled=False), spec())
    assert not f.passes(make_host(up=False), spec())


def test_availability_zone_filter() -> None:
    f = filters.AvailabilityZoneFilter()
    assert f.passes(make_host(availability_zone="az1"), spec())
    assert f.passes(make_host(availability_zone="az1"), spec(availability_zone="az1"))
    assert not f.passes(make_host(availability_zone="nova"), spec(availability_zone="az1"))


def test_resource_filter_counts_vcpus_ram_and_disk() -> None:
    f = filters.ResourceFilter()
    host = make_host(vcpus_used=15, memory_mb_used=7680, local_gb_used=99)
    assert f.passes(host, spec(flavor={"vcpus": 1, "memory_mb": 512, "root_gb": 1}))
    assert not f.passes(host, spec(flavor={"vcpus": 2, "memory_mb": 512, "root_gb": 1}))
    assert not f.passes(host, spec(flavor={"vcpus": 1, "memory_mb": 513, "root_gb": 1}))
    assert not f.passes(host, spec(flavor={"vcpus": 1, "memory_mb": 1, "root_gb": 1, "swap": 1}))


@pytest.mark.parametrize(
    ("value", "req", "expected"),
    [
        ("QEMU", "QEMU", True),
        ("QEMU", "KVM", False),
        (8, "= 4", True),
        (2, "= 4", False),
        (4, "== 4", True),
        (5, "!= 4", True),
        (5, "<= 4", False),
        (5, ">= 4", True),
        ("abc", "s== abc", True),
        ("abc", "s< abd", True),
        ("abc", "s>= abd", False),
        ("abc", "s!= abc", False),
        (["vmx", "sse4"], "<in> vmx", True),
        ("x86_64 haswell", "<in> haswell", True),
        (["vmx"], "<in> svm", False),
        (["vmx", "sse4", "aes"], "<all-in> aes vmx", True),
        (["vmx"], "<all-in> aes vmx", False),
        ("kvm", "<or> qemu <or> kvm", True),
        ("xen", "<or> qemu <or> kvm", False),
        ("text", "= 4", False),  # not a number: no match, no error
    ],
)
def test_match_extra_spec(value: object, req: str, expected: bool) -> None:
    assert filters.match_extra_spec(value, req) is expected


def test_compute_capabilities_filter() -> None:
    f = filters.ComputeCapabilitiesFilter()
    host = make_host(hypervisor_type="QEMU", cpu_info={"arch": "x86_64", "features": ["vmx"]})

    def with_specs(**extra: str) -> RequestSpec:
        return spec(flavor={"vcpus": 1, "memory_mb": 1, "extra_specs": extra})

    assert not f.applies(with_specs(**{"hw:cpu_policy": "dedicated"}))
    assert f.passes(host, with_specs(**{"hw:cpu_policy": "dedicated"}))
    assert f.passes(host, with_specs(**{"capabilities:hypervisor_type": "QEMU"}))
    assert not f.passes(host, with_specs(**{"capabilities:hypervisor_type": "Xen"}))
    assert f.passes(host, with_specs(**{"capabilities:cpu_info:arch": "x86_64"}))
    assert f.passes(host, with_specs(**{"capabilities:cpu_info:features": "<in> vmx"}))
    assert not f.passes(host, with_specs(**{"capabilities:cpu_info:features": "<in> svm"}))
    assert f.passes(host, with_specs(**{"capabilities:vcpus_total": "= 4"}))
    assert not f.passes(host, with_specs(**{"capabilities:no_such_field": "1"}))


def test_image_properties_filter() -> None:
    f = filters.ImagePropertiesFilter()
    host = make_host(
        supported_instances=[("x86_64", "qemu", "hvm"), ("i686", "qemu", "hvm")],
        hypervisor_version=8002000,
    )

    def image(**props: str) -> RequestSpec:
        return spec(image={"id": "img", "properties": props})

    assert not f.applies(image()) and f.passes(host, image())
    assert f.passes(host, image(hw_architecture="x86_64"))
    assert f.passes(host, image(architecture="amd64"))  # legacy name, alias
    assert f.passes(host, image(hw_architecture="i686", img_hv_type="qemu", hw_vm_mode="hvm"))
    assert not f.passes(host, image(hw_architecture="aarch64"))
    assert not f.passes(host, image(img_hv_type="xen"))
    assert not f.passes(host, image(hw_vm_mode="exe"))
    assert not f.passes(make_host(supported_instances=[]), image(hw_architecture="x86_64"))
    assert f.passes(host, image(img_hv_requested_version=">=8.0"))
    assert not f.passes(host, image(img_hv_requested_version=">=9.0"))


def test_load_filters_in_order_and_rejects_unknown_names() -> None:
    loaded = filter_registry.load_filters("ResourceFilter, ComputeFilter")
    assert [f.name for f in loaded] == ["ResourceFilter", "ComputeFilter"]
    with pytest.raises(ValueError, match="NoSuchFilter"):
        filter_registry.load_filters("ComputeFilter,NoSuchFilter")


def test_filter_hosts_names_the_filter_that_emptied_the_list() -> None:
    hosts = [make_host(host="a"), make_host(host="b", up=False)]
    chain = filter_registry.load_filters("ComputeFilter,ResourceFilter")
    kept, _ = filters.filter_hosts(hosts, spec(), chain)
    assert [h.host for h in kept] == ["a"]
    kept, why = filters.filter_hosts(hosts, spec(flavor={"vcpus": 99}), chain)
    assert kept == [] and why == "ResourceFilter returned 0 hosts"


def test_batch_filtering_agrees_with_passes() -> None:
    hosts = [
        make_host(
            host=f"h{i}", enabled=i % 3 != 0, up=i % 4 != 0, vcpus_used=i, memory_mb_used=i * 500
        )
        for i in range(20)
    ]
    s = spec(flavor={"vcpus": 4, "memory_mb": 1024, "root_gb": 5})
    for f in (filters.ComputeFilter(), filters.ResourceFilter(), filters.AvailabilityZoneFilter()):
        expected = [h.host for h in hosts if f.passes(h, s)]
        assert [h.host for h in f.filter_all(hosts, s)] == expected
        assert 0 < len(expected) < len(hosts) or isinstance(f, filters.AvailabilityZoneFilter)
