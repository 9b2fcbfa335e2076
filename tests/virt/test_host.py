"""Host: the libvirt connection, on libvirt's own test:///default hypervisor."""

from __future__ import annotations

import uuid as uuidlib

import pytest

from stackbox.virt.driver import GuestNotFound, VirtError
from stackbox.virt.host import Capabilities, Host
from tests.virt.test_guest import domain_xml

QEMU_LIKE_CAPS = """<capabilities><host><cpu><arch>x86_64</arch><model>Broadwell</model>
<vendor>Intel</vendor><topology sockets='1' dies='1' cores='4' threads='2'/>
<feature name='vmx'/><feature name='rdrand'/></cpu>
<topology><cells num='1'><cell id='0'><memory unit='KiB'>8000000</memory></cell></cells>
</topology></host>
<guest><os_type>hvm</os_type><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/>
</arch></guest>
<guest><os_type>hvm</os_type><arch name='i686'><domain type='qemu'/></arch></guest>
</capabilities>"""


def test_capabilities_parse_cpu_memory_and_guest_kinds() -> None:
    caps = Capabilities.from_xml(QEMU_LIKE_CAPS)
    assert (caps.arch, caps.model, caps.vendor) == ("x86_64", "Broadwell", "Intel")
    assert caps.topology is not None and (caps.topology.cores, caps.topology.threads) == (4, 2)
    assert caps.features == ("vmx", "rdrand") and caps.memory_kib == 8000000
    assert caps.guests == (
        ("x86_64", "qemu", "hvm"),
        ("x86_64", "kvm", "hvm"),
        ("i686", "qemu", "hvm"),
    )


def test_host_facts_of_the_test_hypervisor() -> None:
    host = Host("test:///default")
    assert host.hypervisor_type() == "TEST"
    assert host.hypervisor_version() >= 9_000_000  # libvirt's own version
    node = host.node_info()
    assert node.cpus > 0 and node.memory_mb > 0
    caps = host.capabilities()
    assert caps.arch == "i686" and ("i686", "test", "hvm") in caps.guests
    assert caps.memory_kib > 0 and host.hostname()


def test_define_lookup_list_and_not_found() -> None:
    host = Host("test:///default")
    uuid = str(uuidlib.uuid4())
    guest = host.define(domain_xml(uuid, f"host-{uuid[:8]}"))
    try:
        assert host.lookup_guest(uuid).name == f"host-{uuid[:8]}"
        assert uuid in {g.uuid for g in host.list_guests()}
    finally:
        guest.undefine()
    with pytest.raises(GuestNotFound, match=f"no guest {uuid} on this host"):
        host.lookup_guest(uuid)
    assert host.find_guest(uuid) is None
    with pytest.raises(GuestNotFound, match="not a uuid"):
        host.lookup_guest("../etc")


def test_bad_xml_and_bad_uri_are_virt_errors() -> None:
    with pytest.raises(VirtError, match="cannot define guest"):
        Host("test:///default").define("<domain type='test'><name>x</name></domain>")
    with pytest.raises(VirtError, match="cannot connect to libvirt at nosuch:///x"):
        Host("nosuch:///x").list_guests()


def test_reconnects_after_the_connection_dropped() -> None:
    host = Host("test:///default")
    first = host.get_connection()
    keep = Host("test:///default")  # keeps the test hypervisor's state alive meanwhile
    keep.get_connection()
    first.close()  # as when libvirtd restarts under us
    assert host.get_connection() is not first
    assert any(g.name == "test" for g in host.list_guests())
    keep.close()
    host.close()
