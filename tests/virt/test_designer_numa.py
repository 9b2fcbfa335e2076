"""designer_numa + config_numa: a claim's placement (cells, pins, huge pages, PCI) as
domain XML, both ways (build → XML → objects), and accepted by libvirt's test driver."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import pytest

from stackbox.virt import config as c
from stackbox.virt import numa
from stackbox.virt.designer import GuestHostConfig, build_domain
from tests.virt.test_designer import _boot, _spec, qemu_conn  # noqa: F401 (fixture)
from tests.virt.test_numa import host as topology


def placement(**extra: str) -> dict:
    req = numa.parse_request(4, 64, extra, {})
    assert req is not None
    got = numa.fit(topology(cells=2, cores=4, pages_2m=64), req)
    assert got is not None
    return got


def test_dedicated_two_cell_guest_xml(tmp_path: Path) -> None:
    p = placement(**{"hw:cpu_policy": "dedicated", "hw:numa_nodes": "2", "hw:mem_page_size": "2MB"})
    p["pci"] = [{"address": "0000:81:00.0", "vendor_id": "10de", "product_id": "1eb8"}]
    spec = dataclasses.replace(_spec(4), numa_topology=p)
    dom = build_domain(spec, _boot(tmp_path), GuestHostConfig(virt_type="kvm"))
    el = ET.fromstring(dom.to_xml_string())
    pins = {(v.get("vcpu"), v.get("cpuset")) for v in el.findall("cputune/vcpupin")}
    assert pins == {("0", "0"), ("1", "1"), ("2", "4"), ("3", "5")}
    assert el.find("cputune/emulatorpin").get("cpuset") == "0-1,4-5"  # type: ignore[union-attr]
    mem = el.find("numatune/memory")
    assert mem is not None and (mem.get("mode"), mem.get("nodeset")) == ("strict", "0-1")
    assert [(m.get("cellid"), m.get("nodeset")) for m in el.findall("numatune/memnode")] == [
        ("0", "0"),
        ("1", "1"),
    ]
    cells = [(x.get("id"), x.get("cpus"), x.get("memory")) for x in el.findall("cpu/numa/cell")]
    assert cells == [("0", "0-1", "32768"), ("1", "2-3", "32768")]
    pages = [(x.get("size"), x.get("nodeset")) for x in el.findall("memoryBacking/hugepages/page")]
    assert pages == [("2048", "0"), ("2048", "1")]
    addr = el.find("devices/hostdev[@type='pci']/source/address")
    assert addr is not None and (addr.get("bus"), addr.get("slot")) == ("0x81", "0x00")
    back = c.Domain.from_xml_string(dom.to_xml_string())  # and back again
    assert back.cputune == dom.cputune and back.numatune == dom.numatune
    assert back.memory_backing == dom.memory_backing
    assert back.cpu is not None and back.cpu.numa_cells == dom.cpu.numa_cells  # type: ignore[union-attr]
    assert back.devices.hostdevs == [c.HostDevPCI("0000:81:00.0")]


def test_shared_numa_guest_floats_over_its_cell(tmp_path: Path) -> None:
    spec = dataclasses.replace(_spec(4), numa_topology=placement(**{"hw:numa_nodes": "1"}))
    dom = build_domain(spec, _boot(tmp_path), GuestHostConfig(virt_type="kvm"))
    assert dom.cputune is not None
    assert {p.cpuset for p in dom.cputune.vcpupins} == {"0-3"}
    assert dom.memory_backing is None


def test_plain_guest_gets_no_placement_xml(tmp_path: Path) -> None:
    dom = build_domain(_spec(2), _boot(tmp_path), GuestHostConfig(virt_type="kvm"))
    xml = dom.to_xml_string()
    for tag in ("vcpupin", "numatune", "memoryBacking", "hostdev", "<numa>"):
        assert tag not in xml


def test_test_driver_accepts_pinning_and_numa(tmp_path: Path) -> None:
    p = placement(**{"hw:cpu_policy": "dedicated", "hw:numa_nodes": "2"})
    spec = dataclasses.replace(_spec(4), numa_topology=p)
    dom = build_domain(spec, _boot(tmp_path), GuestHostConfig(virt_type="test"))
    conn = libvirt.open("test:///default")
    try:
        guest = conn.defineXML(dom.to_xml_string())
        back = c.Domain.from_xml_string(guest.XMLDesc(0))
        guest.undefine()
    finally:
        conn.close()
    assert back.cputune is not None
    assert [(x.vcpu, x.cpuset) for x in back.cputune.vcpupins] == [
        (0, "0"),
        (1, "1"),
        (2, "4"),
        (3, "5"),
    ]
    assert back.numatune is not None and back.numatune.nodeset == "0-1"


def test_qemu_accepts_pinning_on_this_hosts_real_topology(
    tmp_path: Path,
    qemu_conn: libvirt.virConnect,  # noqa: F811
) -> None:
    """Defined (not started) on qemu:///system, fitted against the real host's cells."""
    topo = numa.parse_capabilities(qemu_conn.getCapabilities())
    req = numa.parse_request(2, 64, {"hw:cpu_policy": "dedicated"}, {})
    assert req is not None
    p = numa.fit(topo, req)
    if p is None:
        pytest.skip(f"this host has fewer than 2 CPUs in a NUMA cell: {topo}")
    spec = dataclasses.replace(_spec(2), numa_topology=p)
    dom = build_domain(spec, _boot(tmp_path), GuestHostConfig(virt_type="qemu"))
    guest = qemu_conn.defineXML(dom.to_xml_string())
    try:
        back = c.Domain.from_xml_string(guest.XMLDesc(0))
    finally:
        guest.undefine()
    assert back.cputune is not None and back.cputune.vcpupins == dom.cputune.vcpupins  # type: ignore[union-attr]
    assert back.numatune == dom.numatune
    assert back.cpu is not None and [x.cpus for x in back.cpu.numa_cells] == ["0-1"]
