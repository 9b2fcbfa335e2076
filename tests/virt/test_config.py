"""The domain XML object model: every element renders and parses back to an equal object,
and real libvirt XML (the test driver's own domain, Nova's seed example) parses into what
we model."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import libvirt
import pytest

from stackbox.virt import config as c

ELEMENTS: list[Any] = [
    c.MetaFlavor("m1.tiny", memory=512, disk=1, swap=30, ephemeral=2, vcpus=1),
    c.MetaOwner("u-1", "alice", "p-1", "demo"),
    c.NovaLikeMetadata(
        "0.1.0",
        "vm11",
        "2015-06-09 23:54:04",
        flavor=c.MetaFlavor("tiny2", 50, 1, 30, 1, 1),
        owner=c.MetaOwner("u", "admin", "p", "admin"),
        root_type="image",
        root_uuid="bb9318db-5554-4857-a309-268c6653b9ff",
    ),
    c.NovaLikeMetadata("0.1.0", "bfv", "2026-01-01 00:00:00"),
    c.SysInfo({"manufacturer": "stackbox", "serial": "abc", "uuid": "abc"}),
    c.OS(arch="x86_64", machine="pc", boot_devs=["hd", "cdrom"], smbios_mode="sysinfo"),
    c.OS(kernel="/k", initrd="/r", cmdline="root=/dev/vda console=ttyS0"),
    c.OS(
        loader="/usr/share/OVMF/OVMF_CODE.fd",
        loader_readonly=True,
        loader_type="pflash",
        nvram="/var/lib/x_VARS.fd",
    ),
    c.Features(acpi=True, apic=True),
    c.Features(pae=True),
    c.Timer("rtc", tickpolicy="catchup"),
    c.Timer("hpet", present=False),
    c.Clock("utc", [c.Timer("pit", tickpolicy="delay"), c.Timer("hpet", present=False)]),
    c.CPUTopology(2, 1, 1),
    c.CPUFeature("vmx", "disable"),
    c.CPU(mode="host-model", topology=c.CPUTopology(4, 1, 1)),
    c.CPU(
        mode="custom",
        match="exact",
        model="qemu64",
        model_fallback="forbid",
        features=[c.CPUFeature("svm", "require")],
    ),
    c.CPU(topology=c.CPUTopology(1, 2, 2)),
    c.Disk(
        "file",
        "disk",
        "vda",
        "virtio",
        source_file="/i/disk",
        driver_name="qemu",
        driver_type="qcow2",
        driver_cache="none",
        driver_discard="unmap",
        boot_order=1,
    ),
    c.Disk(
        "block",
        "disk",
        "vdb",
        "virtio",
        source_dev="/dev/sdc",
        driver_type="raw",
        serial="26446902-5a56",
    ),
    c.Disk("file", "cdrom", "hdd", "ide", source_file="/i/disk.config", readonly=True),
    c.Disk("file", "cdrom", "hdc", "ide"),  # empty tray
    c.Interface(
        "bridge",
        mac="fa:16:3e:e0:30:e7",
        model="virtio",
        driver_name="qemu",
        source_bridge="qbr59",
        target_dev="tap59",
        mtu=1450,
    ),
    c.Interface("ethernet", mac="fa:16:3e:00:00:01", target_dev="tap1"),
    c.Interface("network", source_network="default"),
    c.Serial("file", source_path="/i/console.log"),
    c.Serial("pty", target_type="isa-serial", target_port=1),
    c.Console("pty", target_type="serial", target_port=0),
    c.Input("tablet", "usb"),
    c.Graphics("vnc", autoport=True, listen="0.0.0.0", keymap="en-us"),
    c.Graphics("vnc", autoport=False, port=5901),
    c.Video("virtio"),
    c.Video("qxl", vram=65536, heads=1),
    c.MemBalloon("virtio", stats_period=10),
    c.MemBalloon("none"),
    c.Controller("usb", 0, "piix3-uhci"),
    c.Controller("ide"),
]


@pytest.mark.parametrize("obj", ELEMENTS, ids=lambda o: type(o).__name__)
def test_every_element_round_trips(obj: Any) -> None:
    xml = ET.tostring(obj.to_xml(), encoding="unicode")
    assert type(obj).from_xml(ET.fromstring(xml)) == obj


def _full_domain() -> c.Domain:
    return c.Domain(
        type="kvm",
        name="instance-0000000a",
        uuid="8352e969-0a25-4abf-978f-d9d0ec4de0cd",
        memory=524288,
        current_memory=262144,
        vcpu=2,
        vcpu_cpuset="0-1",
        metadata=ELEMENTS[2],
        sysinfo=c.SysInfo({"manufacturer": "stackbox", "product": "stackbox compute"}),
        os=c.OS(arch="x86_64", machine="pc", boot_devs=["hd"], smbios_mode="sysinfo"),
        features=c.Features(acpi=True, apic=True),
        clock=c.Clock("utc"),
        cpu=c.CPU(mode="host-model", topology=c.CPUTopology(2, 1, 1)),
        on_poweroff="destroy",
        on_reboot="restart",
        on_crash="destroy",
        devices=c.Devices(
            emulator="/usr/bin/qemu-system-x86_64",
            disks=[e for e in ELEMENTS if isinstance(e, c.Disk)],
            controllers=[c.Controller("usb", 0, "piix3-uhci")],
            interfaces=[e for e in ELEMENTS if isinstance(e, c.Interface)],
            serials=[c.Serial("file", "/i/console.log"), c.Serial("pty")],
            consoles=[c.Console("pty")],
            inputs=[c.Input("tablet", "usb")],
            graphics=[c.Graphics("vnc", autoport=True, listen="127.0.0.1")],
            videos=[c.Video("virtio")],
            memballoon=c.MemBalloon("virtio", 10),
        ),
    )


def test_domain_round_trips_through_a_string() -> None:
    dom = _full_domain()
    xml = dom.to_xml_string()
    back = c.Domain.from_xml_string(xml)
    assert back == dom
    assert back.to_xml_string() == xml
    assert 'xmlns:stackbox="http://stackbox.dev/xmlns/libvirt/1.0"' in xml
    assert '<memory unit="KiB">524288</memory>' in xml


def test_parses_the_test_drivers_own_domain() -> None:
    conn = libvirt.openReadOnly("test:///default")
    try:
        dom = c.Domain.from_xml_string(conn.lookupByName("test").XMLDesc(0))
    finally:
        conn.close()
    assert (dom.type, dom.name) == ("test", "test")
    assert dom.uuid == "6695eb01-f6a4-8304-79aa-97f2502e193f"
    assert (dom.memory, dom.current_memory, dom.vcpu) == (8388608, 2097152, 2)
    assert dom.os == c.OS(type="hvm", arch="i686", boot_devs=["hd"])
    assert dom.clock == c.Clock("utc")
    assert (dom.on_poweroff, dom.on_reboot, dom.on_crash) == ("destroy", "restart", "destroy")
    assert dom.devices.disks == [
        c.Disk("file", "disk", "vda", "virtio", source_file="/guest/diskimage1")
    ]
    assert dom.devices.interfaces == [
        c.Interface(
            "network", mac="aa:bb:cc:dd:ee:ff", source_network="default", target_dev="testnet0"
        )
    ]
    assert dom.devices.memballoon == c.MemBalloon("virtio")


SEED_XML = """<domain type="qemu">
  <uuid>8352e969-0a25-4abf-978f-d9d0ec4de0cd</uuid>
  <name>instance-0000002f</name>
  <memory>51200</memory>
  <vcpu cpuset="0">1</vcpu>
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.0">
      <nova:name>vm11</nova:name>
    </nova:instance>
  </metadata>
  <sysinfo type="smbios">
    <system>
      <entry name="manufacturer">OpenStack Foundation</entry>
      <entry name="product">OpenStack Nova</entry>
    </system>
  </sysinfo>
  <os><type>hvm</type><boot dev="hd"/><smbios mode="sysinfo"/></os>
  <features><acpi/><apic/></features>
  <clock offset="utc"/>
  <cpu mode="host-model" match="exact"><topology sockets="1" cores="1" threads="1"/></cpu>
  <devices>
    <disk type="file" device="disk">
      <driver name="qemu" type="qcow2" cache="none"/>
      <source file="/var/lib/nova/instances/8352e969/disk"/>
      <target bus="virtio" dev="vda"/>
    </disk>
    <disk type="block" device="disk">
      <driver name="qemu" type="raw" cache="none"/>
      <source dev="/dev/disk/by-path/ip-10.0.2.41:3260-iscsi-lun-1"/>
      <target bus="virtio" dev="vdb"/>
      <serial>26446902-5a56-4c79-b839-a8e13a66dc7a</serial>
    </disk>
    <interface type="bridge">
      <mac address="fa:16:3e:e0:30:e7"/>
      <model type="virtio"/>
      <driver name="qemu"/>
      <source bridge="qbr59cfa0b8-2f"/>
      <target dev="tap59cfa0b8-2f"/>
    </interface>
    <serial type="file"><source path="/var/lib/nova/instances/8352e969/console.log"/></serial>
    <serial type="pty"/>
    <input type="tablet" bus="usb"/>
    <graphics type="vnc" autoport="yes" keymap="en-us" listen="0.0.0.0"/>
    <video><model type="cirrus"/></video>
    <memballoon model="virtio"><stats period="10"/></memballoon>
  </devices>
</domain>"""


def test_parses_novas_seed_example() -> None:
    dom = c.Domain.from_xml_string(SEED_XML)
    assert (dom.type, dom.name, dom.memory, dom.vcpu, dom.vcpu_cpuset) == (
        "qemu",
        "instance-0000002f",
        51200,
        1,
        "0",
    )
    assert dom.metadata is None  # Nova's namespace is not ours
    assert dom.sysinfo == c.SysInfo(
        {"manufacturer": "OpenStack Foundation", "product": "OpenStack Nova"}
    )
    assert dom.os == c.OS(boot_devs=["hd"], smbios_mode="sysinfo")
    assert dom.features == c.Features(acpi=True, apic=True)
    assert dom.cpu == c.CPU(mode="host-model", match="exact", topology=c.CPUTopology(1, 1, 1))
    vdb = dom.devices.disks[1]
    assert (vdb.type, vdb.source_dev, vdb.driver_type, vdb.serial) == (
        "block",
        "/dev/disk/by-path/ip-10.0.2.41:3260-iscsi-lun-1",
        "raw",
        "26446902-5a56-4c79-b839-a8e13a66dc7a",
    )
    assert dom.devices.interfaces[0] == c.Interface(
        "bridge", "fa:16:3e:e0:30:e7", "virtio", "qemu", "qbr59cfa0b8-2f", None, "tap59cfa0b8-2f"
    )
    assert [s.type for s in dom.devices.serials] == ["file", "pty"]
    assert dom.devices.graphics == [c.Graphics("vnc", True, None, "0.0.0.0", "en-us")]
    assert dom.devices.videos == [c.Video("cirrus")]
    assert dom.devices.memballoon == c.MemBalloon("virtio", 10)


@pytest.mark.parametrize(
    ("unit", "value", "kib"),
    [
        (None, "1024", 1024),
        ("KiB", "1024", 1024),
        ("MiB", "512", 524288),
        ("GiB", "2", 2097152),
        ("b", "1048576", 1024),
    ],
)
def test_memory_units_become_kib(unit: str | None, value: str, kib: int) -> None:
    attr = f' unit="{unit}"' if unit else ""
    dom = c.Domain.from_xml_string(
        f"<domain type='test'><name>x</name><memory{attr}>{value}</memory></domain>"
    )
    assert dom.memory == kib


def test_live_only_values_are_not_configuration() -> None:
    """A running domain reports its allocated pty and VNC port; those are state."""
    xml = """<domain type='qemu'><name>x</name><devices>
      <serial type='pty'><source path='/dev/pts/3'/><target port='0'/></serial>
      <graphics type='vnc' port='5900' autoport='yes' listen='127.0.0.1'/>
    </devices></domain>"""
    dom = c.Domain.from_xml_string(xml)
    assert dom.devices.serials == [c.Serial("pty", target_port=0)]
    assert dom.devices.graphics == [c.Graphics("vnc", autoport=True, listen="127.0.0.1")]


def test_rejects_a_document_that_is_not_a_domain() -> None:
    with pytest.raises(ValueError, match="not a domain"):
        c.Domain.from_xml_string("<network><name>default</name></network>")
