"""The designer's decisions, and that libvirt (its test driver, and QEMU when libvirtd runs
here) accepts the XML it designs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from stackbox.virt import config as c
from stackbox.virt import designer
from stackbox.virt.designer import GuestHostConfig, build_domain
from stackbox.virt.driver import (
    BootInfo,
    DiskInfo,
    FlavorSpec,
    ImageMeta,
    InstanceSpec,
    InterfaceInfo,
)

IMAGE = "bb9318db-5554-4857-a309-268c6653b9ff"


def _spec(vcpus: int = 2, image: str | None = IMAGE) -> InstanceSpec:
    uid = str(uuid.uuid4())
    return InstanceSpec(
        uuid=uid,
        name=f"instance-{uid[:8]}",
        display_name="vm11",
        project_id="74c8ada23a3449f888d9e19b76d13aab",
        user_id="bcd37e6272184f34993b4d7686ca4479",
        flavor=FlavorSpec("1", "m1.small", vcpus, 64, 1, ephemeral_gb=2, swap_mb=30),
        image=ImageMeta(id=image),
        created_at=dt.datetime(2026, 11, 23, 23, 54, 4),
        project_name="demo",
        user_name="alice",
    )


def _boot(tmp: Path, kernel: bool = False, nics: tuple[InterfaceInfo, ...] = ()) -> BootInfo:
    return BootInfo(
        instance_dir=tmp,
        disks=(
            DiskInfo("vda", tmp / "disk"),
            DiskInfo("hdd", tmp / "disk.config", format="raw", bus="ide", device="cdrom"),
        ),
        console_log=tmp / "console.log",
        kernel=tmp / "kernel" if kernel else None,
        ramdisk=tmp / "ramdisk" if kernel else None,
        interfaces=nics,
    )


def test_domain_has_the_instances_identity_size_and_metadata(tmp_path: Path) -> None:
    spec = dataclasses.replace(_spec(), cloud_id="c0ffee" * 5 + "ab")
    dom = build_domain(spec, _boot(tmp_path), GuestHostConfig("kvm", package_version="9.9"))
    assert (dom.type, dom.name, dom.uuid) == ("kvm", spec.name, spec.uuid)
    assert (dom.memory, dom.vcpu) == (64 * 1024, 2)
    assert dom.metadata == c.NovaLikeMetadata(
        package_version="9.9",
        name="vm11",
        creation_time="2026-11-23 23:54:04",
        flavor=c.MetaFlavor("m1.small", memory=64, disk=1, swap=30, ephemeral=2, vcpus=2),
        owner=c.MetaOwner(spec.user_id, "alice", spec.project_id, "demo"),
        root_type="image",
        root_uuid=IMAGE,
        cloud_id="c0ffee" * 5 + "ab",
        instance_uuid=spec.uuid,
    )
    assert dom.sysinfo is not None
    assert dom.sysinfo.system["manufacturer"] == "stackbox"
    assert dom.sysinfo.system["product"] == "stackbox compute"
    assert dom.sysinfo.system["version"] == "9.9"
    assert dom.sysinfo.system["serial"] == dom.sysinfo.system["uuid"] == spec.uuid
    assert dom.features == c.Features(acpi=True, apic=True)
    assert dom.clock == c.Clock("utc")


def test_volume_backed_instance_has_no_image_root(tmp_path: Path) -> None:
    dom = build_domain(_spec(image=None), _boot(tmp_path), GuestHostConfig("qemu"))
    assert dom.metadata is not None and dom.metadata.root_type is None


def test_boots_from_disk_or_from_the_images_kernel(tmp_path: Path) -> None:
    host = GuestHostConfig("qemu")
    os_disk = build_domain(_spec(), _boot(tmp_path), host).os
    assert os_disk == c.OS(arch="x86_64", machine="pc", boot_devs=["hd"], smbios_mode="sysinfo")
    os_kernel = build_domain(_spec(), _boot(tmp_path, kernel=True), host).os
    assert os_kernel.boot_devs == []
    assert (os_kernel.kernel, os_kernel.initrd) == (
        str(tmp_path / "kernel"),
        str(tmp_path / "ramdisk"),
    )
    assert os_kernel.cmdline == designer.DEFAULT_CMDLINE


@pytest.mark.parametrize(
    ("virt_type", "cpu_mode", "expected"),
    [
        ("kvm", None, c.CPU(mode="host-model", topology=c.CPUTopology(3, 1, 1))),
        ("qemu", None, c.CPU(topology=c.CPUTopology(3, 1, 1))),
        ("kvm", "host-passthrough", c.CPU("host-passthrough", topology=c.CPUTopology(3, 1, 1))),
        (
            "qemu",
            "custom",
            c.CPU("custom", "exact", model="qemu64", topology=c.CPUTopology(3, 1, 1)),
        ),
        ("test", None, c.CPU(topology=c.CPUTopology(3, 1, 1))),
    ],
)
def test_cpu_mode_and_one_socket_per_vcpu(
    tmp_path: Path, virt_type: str, cpu_mode: str | None, expected: c.CPU
) -> None:
    host = GuestHostConfig(virt_type, cpu_mode=cpu_mode)
    assert build_domain(_spec(vcpus=3), _boot(tmp_path), host).cpu == expected


def test_disks_follow_boot_info(tmp_path: Path) -> None:
    boot = _boot(tmp_path)
    boot = BootInfo(
        tmp_path,
        (*boot.disks, DiskInfo("vdb", Path("/dev/sdc"), format="raw", serial="vol-1")),
        boot.console_log,
    )
    disks = build_domain(_spec(), boot, GuestHostConfig("qemu")).devices.disks
    assert disks == [
        c.Disk("file", "disk", "vda", "virtio", source_file=str(tmp_path / "disk"),
               driver_name="qemu", driver_type="qcow2", driver_cache="none"),
        c.Disk("file", "cdrom", "hdd", "ide", source_file=str(tmp_path / "disk.config"),
               driver_name="qemu", driver_type="raw", driver_cache="none", readonly=True),
        c.Disk("block", "disk", "vdb", "virtio", source_dev="/dev/sdc", driver_name="qemu",
               driver_type="raw", driver_cache="none", serial="vol-1"),
    ]  # fmt: skip


def test_interfaces_on_a_bridge_or_a_tap(tmp_path: Path) -> None:
    nics = (
        InterfaceInfo("fa:16:3e:00:00:01", bridge="br-int", tap="tap1", mtu=1450),
        InterfaceInfo("fa:16:3e:00:00:02", tap="tap2", model="e1000"),
    )
    got = build_domain(_spec(), _boot(tmp_path, nics=nics), GuestHostConfig("kvm"))
    assert got.devices.interfaces == [
        c.Interface("bridge", "fa:16:3e:00:00:01", "virtio", None, "br-int", None, "tap1", 1450),
        c.Interface("ethernet", "fa:16:3e:00:00:02", "e1000", target_dev="tap2"),
    ]


def test_console_vnc_video_and_balloon(tmp_path: Path) -> None:
    host = GuestHostConfig("qemu", vnc_listen="0.0.0.0", mem_stats_period=5)
    dev = build_domain(_spec(), _boot(tmp_path), host).devices
    assert dev.serials == [c.Serial("file", str(tmp_path / "console.log")), c.Serial("pty")]
    assert dev.consoles == [c.Console("pty")]
    assert dev.inputs == [c.Input("tablet", "usb")]
    assert dev.graphics == [c.Graphics("vnc", autoport=True, listen="0.0.0.0")]
    assert dev.videos == [c.Video(designer.VIDEO_MODEL)]
    assert dev.memballoon == c.MemBalloon("virtio", 5)
    no_stats = GuestHostConfig("qemu", mem_stats_period=0)
    assert build_domain(_spec(), _boot(tmp_path), no_stats).devices.memballoon == c.MemBalloon(
        "virtio"
    )


def _keeps_what_we_designed(designed: c.Domain, defined: c.Domain) -> None:
    assert (defined.type, defined.name, defined.uuid) == (designed.type, designed.name,
                                                          designed.uuid)  # fmt: skip
    assert (defined.memory, defined.vcpu) == (designed.memory, designed.vcpu)
    assert defined.metadata == designed.metadata
    assert defined.sysinfo == designed.sysinfo
    assert defined.features == designed.features
    if designed.os.boot_devs:  # (libvirt adds <boot dev=hd> to kernel boots)
        assert defined.os.boot_devs == designed.os.boot_devs
    assert (defined.os.initrd, defined.os.cmdline) == (designed.os.initrd, designed.os.cmdline)
    assert defined.os.kernel == designed.os.kernel
    assert defined.devices.disks == designed.devices.disks
    assert [(i.mac, i.source_bridge, i.model) for i in defined.devices.interfaces] == [
        (i.mac, i.source_bridge, i.model) for i in designed.devices.interfaces
    ]
    assert [(s.type, s.source_path) for s in defined.devices.serials] == [
        (s.type, s.source_path) for s in designed.devices.serials
    ]
    assert defined.devices.graphics == designed.devices.graphics
    assert [v.model for v in defined.devices.videos] == [designer.VIDEO_MODEL]
    assert defined.devices.memballoon == designed.devices.memballoon


@pytest.mark.parametrize("kernel", [False, True])
def test_the_test_driver_accepts_the_design(tmp_path: Path, kernel: bool) -> None:
    nics = (InterfaceInfo("fa:16:3e:00:00:01", bridge="virbr0"),)
    dom = build_domain(_spec(), _boot(tmp_path, kernel, nics), GuestHostConfig("test"))
    conn = libvirt.open("test:///default")
    try:
        guest = conn.defineXML(dom.to_xml_string())
        try:
            defined = c.Domain.from_xml_string(guest.XMLDesc(0))
            _keeps_what_we_designed(dom, defined)
            assert (defined.os.arch, defined.os.machine) == ("x86_64", "pc")
        finally:
            guest.undefine()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def qemu_conn() -> Iterator[libvirt.virConnect]:
    from stackbox.virt.daemon import LibvirtUnavailable, ensure_libvirtd

    try:
        ensure_libvirtd()
        conn = libvirt.open("qemu:///system")
    except (LibvirtUnavailable, libvirt.libvirtError, OSError) as exc:
        pytest.skip(f"libvirtd with QEMU is not available here: {exc}")
    yield conn
    conn.close()


@pytest.mark.parametrize(("virt_type", "kernel"), [("qemu", False), ("kvm", False), ("qemu", True)])
def test_qemu_accepts_the_design(
    tmp_path: Path, qemu_conn: libvirt.virConnect, virt_type: str, kernel: bool
) -> None:
    """Defined (not started): libvirt validates the XML against QEMU's capabilities."""
    if virt_type == "kvm" and not Path("/dev/kvm").exists():
        pytest.skip("no /dev/kvm on this host")
    nics = (InterfaceInfo("fa:16:3e:00:00:01", tap="tapsbxtest0"),)
    dom = build_domain(_spec(), _boot(tmp_path, kernel, nics), GuestHostConfig(virt_type))
    guest = qemu_conn.defineXML(dom.to_xml_string())
    try:
        defined = c.Domain.from_xml_string(guest.XMLDesc(0))
        _keeps_what_we_designed(dom, defined)
        assert defined.os.arch == "x86_64" and defined.os.smbios_mode == "sysinfo"
        assert defined.os.machine is not None and defined.os.machine.startswith("pc-i440fx")
    finally:
        guest.undefine()


def _rescue_boot(tmp: Path, bus: str, device: str, target: str) -> BootInfo:
    """A stable device rescue: the guest's own disks, then the rescue disk booted first."""
    boot = _boot(tmp)
    rescue = DiskInfo(target, tmp / "disk.rescue", bus=bus, device=device, boot_order=1)
    return dataclasses.replace(boot, disks=(*boot.disks, rescue))


def test_a_disk_with_a_boot_order_replaces_os_boot(tmp_path: Path) -> None:
    dom = build_domain(
        _spec(), _rescue_boot(tmp_path, "virtio", "disk", "vdb"), GuestHostConfig("qemu")
    )
    assert dom.os.boot_devs == []
    assert [d.boot_order for d in dom.devices.disks] == [None, None, 1]
    again = c.Domain.from_xml_string(dom.to_xml_string())
    assert again.devices.disks[2].boot_order == 1 and again.os.boot_devs == []
    assert build_domain(_spec(), _boot(tmp_path), GuestHostConfig("qemu")).os.boot_devs == ["hd"]


@pytest.mark.parametrize(
    ("bus", "device", "target"),
    [
        ("virtio", "disk", "vdb"),
        ("scsi", "disk", "sda"),
        ("usb", "disk", "sda"),
        ("ide", "cdrom", "hda"),
    ],
)
def test_qemu_accepts_a_stable_rescue_design(
    tmp_path: Path, qemu_conn: libvirt.virConnect, bus: str, device: str, target: str
) -> None:
    """Defined (not started): QEMU's libvirt takes each rescue bus with a boot order."""
    dom = build_domain(
        _spec(), _rescue_boot(tmp_path, bus, device, target), GuestHostConfig("qemu")
    )
    guest = qemu_conn.defineXML(dom.to_xml_string())
    try:
        defined = c.Domain.from_xml_string(guest.XMLDesc(0))
        rescue = [d for d in defined.devices.disks if d.boot_order == 1]
        assert [(d.target_bus, d.target_dev) for d in rescue] == [(bus, target)]
    finally:
        guest.undefine()
