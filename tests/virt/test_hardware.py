"""Flavor extra specs and image properties → GuestHardware → libvirt XML → parsed back
(virt/hardware.py, the new config elements, designer.apply_hardware), and that libvirt
(test driver; QEMU when libvirtd runs here) accepts the result."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from stackbox.virt import config as c
from stackbox.virt import hardware as hw
from stackbox.virt.designer import GuestHostConfig, build_domain
from stackbox.virt.driver import (
    BootInfo,
    DiskInfo,
    FlavorSpec,
    ImageMeta,
    InstanceSpec,
    InterfaceInfo,
    VirtError,
)

IMAGE = "bb9318db-5554-4857-a309-268c6653b9ff"
FULL_SPECS = {
    "hw:cpu_sockets": "1",
    "hw:cpu_cores": "2",
    "quota:cpu_shares": "2048",
    "quota:cpu_period": "20000",
    "quota:cpu_quota": "10000",
    "quota:disk_read_bytes_sec": "10240000",
    "quota:disk_write_bytes_sec": "10485760",
    "quota:disk_total_iops_sec": "500",
    "quota:vif_inbound_average": "32768",
    "quota:vif_inbound_peak": "65536",
    "quota:vif_inbound_burst": "65536",
    "quota:vif_outbound_average": "16384",
    "hw:watchdog_action": "reset",
    "hw_rng:allowed": "True",
    "hw_rng:rate_bytes": "1024",
    "hw_rng:rate_period": "2000",
}


def _spec(specs: dict[str, str], props: dict[str, str] | None = None, vcpus: int = 2):
    uid = str(uuid.uuid4())
    return InstanceSpec(
        uuid=uid,
        name=f"instance-{uid[:8]}",
        display_name="hwvm",
        project_id="p",
        user_id="u",
        flavor=FlavorSpec("1", "hw.small", vcpus, 64, 1, extra_specs=specs),
        image=ImageMeta(id=IMAGE, properties=props or {}),
        created_at=dt.datetime(2026, 11, 24, 1, 0, 0),
    )


def _boot(tmp: Path, nics: tuple[InterfaceInfo, ...] = ()) -> BootInfo:
    return BootInfo(
        instance_dir=tmp,
        disks=(DiskInfo("vda", tmp / "disk"), DiskInfo("vdb", tmp / "disk.local")),
        console_log=tmp / "console.log",
        interfaces=nics,
    )


# -- specs → GuestHardware ---------------------------------------------------------------


def test_no_specs_is_plain_hardware_with_one_socket_per_vcpu() -> None:
    h = hw.guest_hardware(4, {}, {})
    assert h == hw.GuestHardware(topology=hw.Topology(4, 1, 1))


@pytest.mark.parametrize(
    ("vcpus", "flavor", "image", "want"),
    [
        (2, {"hw:cpu_sockets": "1", "hw:cpu_cores": "2"}, {}, (1, 2, 1)),
        (4, {"hw:cpu_cores": "2"}, {}, (2, 2, 1)),  # the rest is filled in
        (8, {"hw:cpu_max_sockets": "2"}, {}, (2, 4, 1)),
        (4, {"hw:cpu_sockets": "4"}, {"hw_cpu_sockets": "1", "hw_cpu_threads": "2"}, (1, 2, 2)),
        (4, {"hw:cpu_max_sockets": "2"}, {"hw_cpu_max_sockets": "1"}, (1, 4, 1)),
    ],
)
def test_topology_image_over_flavor_within_limits(
    vcpus: int, flavor: dict, image: dict, want: tuple[int, int, int]
) -> None:
    assert hw.topology(vcpus, flavor, image) == hw.Topology(*want)


@pytest.mark.parametrize(
    ("vcpus", "flavor", "image", "words"),
    [
        (2, {"hw:cpu_sockets": "1", "hw:cpu_cores": "4"}, {}, "Cannot find a CPU topology"),
        (3, {"hw:cpu_threads": "2"}, {}, "sockets * cores * threads must equal"),
        (4, {"hw:cpu_max_sockets": "2", "hw:cpu_sockets": "4"}, {}, "exceeds the limit of 2"),
        (4, {"hw:cpu_max_sockets": "1"}, {"hw_cpu_sockets": "2"}, "exceeds the limit of 1"),
        (4, {"hw:cpu_max_cores": "2"}, {"hw_cpu_max_cores": "4"}, "exceeds the flavor limit"),
        (2, {"hw:cpu_sockets": "two"}, {}, "Invalid value 'two' for hw:cpu_sockets"),
        (2, {"hw:cpu_cores": "0"}, {}, "must be at least 1"),
    ],
)
def test_invalid_topologies_say_why(vcpus: int, flavor: dict, image: dict, words: str) -> None:
    with pytest.raises(hw.HardwareError, match=words.replace("*", r"\*")):
        hw.guest_hardware(vcpus, flavor, image)


def test_full_specs_parse() -> None:
    h = hw.guest_hardware(2, FULL_SPECS, {"hw_rng_model": "virtio"})
    assert h.topology == hw.Topology(1, 2, 1)
    assert h.cputune == hw.CPUTuneSpec(shares=2048, period=20000, quota=10000)
    assert h.disk_tune == {"read_bytes_sec": 10240000, "write_bytes_sec": 10485760,
                           "total_iops_sec": 500}  # fmt: skip
    assert h.vif_tune == {"inbound_average": 32768, "inbound_peak": 65536,
                          "inbound_burst": 65536, "outbound_average": 16384}  # fmt: skip
    assert h.watchdog_action == "reset"
    assert h.rng == hw.RNGSpec(rate_bytes=1024, rate_period=2000)
    assert h.firmware == "bios"


def test_precedence_image_over_flavor() -> None:
    h = hw.guest_hardware(
        1,
        {"hw:watchdog_action": "reset", "hw:firmware_type": "bios"},
        {"hw_watchdog_action": "pause", "hw_firmware_type": "uefi"},
    )
    assert (h.watchdog_action, h.firmware) == ("pause", "uefi")
    assert hw.guest_hardware(1, {"hw:watchdog_action": "reset"}, {
        "hw_watchdog_action": "disabled"}).watchdog_action is None  # fmt: skip


def test_rng_only_when_the_image_asks() -> None:
    assert hw.guest_hardware(1, {"hw_rng:allowed": "True"}, {}).rng is None
    assert hw.guest_hardware(1, {}, {"hw_rng_model": "virtio"}).rng == hw.RNGSpec()  # default on


@pytest.mark.parametrize(
    ("flavor", "image"),
    [
        ({"hw:mem_page_size": "large"}, {"hw_mem_page_size": "2MB"}),
        ({"hw:mem_page_size": "any"}, {"hw_mem_page_size": "small"}),
        ({"hw:mem_page_size": "1GB"}, {}),
        ({"hw:mem_page_size": "2048"}, {}),
    ],
)
def test_mem_page_size_parses(flavor: dict, image: dict) -> None:
    want = {"2MB": 2048, "small": "small", "1GB": 1024**2, "2048": 2048}
    raw = image.get("hw_mem_page_size") or flavor["hw:mem_page_size"]
    assert hw.guest_hardware(1, flavor, image).mem_page_size == want[raw]


@pytest.mark.parametrize(
    ("flavor", "image", "words"),
    [
        ({"quota:cpu_shares": "-1"}, {}, "quota:cpu_shares: must be at least 0"),
        ({"quota:cpu_period": "999"}, {}, r"must be in \[1000, 1000000\]"),
        ({"quota:cpu_quota": "10"}, {}, "quota:cpu_quota: must be at least 1000"),
        ({"quota:disk_read_bytes_sec": "fast"}, {}, "must be an integer"),
        (
            {"quota:disk_total_bytes_sec": "1", "quota:disk_read_bytes_sec": "1"},
            {},
            "cannot be combined",
        ),
        ({"quota:vif_inbound_peak": "10"}, {}, "needs quota:vif_inbound_average"),
        ({"hw:watchdog_action": "explode"}, {}, "hw:watchdog_action: must be one of"),
        ({}, {"hw_watchdog_action": "reboot"}, "hw_watchdog_action: must be one of"),
        ({"hw_rng:allowed": "False"}, {"hw_rng_model": "virtio"}, "does not allow one"),
        ({"hw_rng:allowed": "maybe"}, {}, "must be a boolean"),
        ({"hw_rng:rate_period": "10"}, {}, "needs hw_rng:rate_bytes"),
        ({}, {"hw_rng_model": "egd"}, "hw_rng_model: must be one of virtio"),
        ({}, {"hw_firmware_type": "coreboot"}, "hw_firmware_type: must be one of bios, uefi"),
        ({"hw:mem_page_size": "huge"}, {}, "hw:mem_page_size: must be small, large, any"),
        ({}, {"hw_mem_page_size": "large"}, "forbidden against '<empty>'"),
        ({"hw:mem_page_size": "small"}, {"hw_mem_page_size": "large"}, "forbidden against"),
        ({"hw:mem_page_size": "large"}, {"hw_mem_page_size": "small"}, "forbidden against"),
    ],
)
def test_invalid_values_say_which_key(flavor: dict, image: dict, words: str) -> None:
    with pytest.raises(hw.HardwareError, match=words):
        hw.validate(1, flavor, image)


def test_find_ovmf_takes_the_first_installed_pair(tmp_path: Path) -> None:
    code, vars_ = tmp_path / "CODE.fd", tmp_path / "VARS.fd"
    assert hw.find_ovmf([(str(code), str(vars_))]) is None
    code.write_bytes(b"x")
    assert hw.find_ovmf([(str(code), str(vars_))]) == (str(code), "")
    vars_.write_bytes(b"x")
    assert hw.find_ovmf([("/nonexistent", ""), (str(code), str(vars_))]) == (str(code), str(vars_))


# -- elements both ways ----------------------------------------------------------------


@pytest.mark.parametrize(
    "obj",
    [
        c.CPUTune(shares=2048, period=20000, quota=10000),
        c.CPUTune(shares=512),
        c.Watchdog(model="i6300esb", action="poweroff"),
        c.RNG(rate_bytes=1024, rate_period=2000),
        c.RNG(),
        c.IOTune(read_bytes_sec=1, write_iops_sec=5),
        c.Bandwidth(inbound=c.BandwidthRate(100, 200, 300), outbound=c.BandwidthRate(50)),
        c.Disk("file", "disk", "vda", "virtio", "/x/disk", iotune=c.IOTune(total_iops_sec=9)),
        c.Interface("bridge", mac="fa:16:3e:00:00:01",
                    bandwidth=c.Bandwidth(outbound=c.BandwidthRate(8))),
        c.OS(loader="/c.fd", loader_readonly=True, loader_type="pflash", nvram="/i/nvram.fd",
             nvram_template="/v.fd"),
    ],
)  # fmt: skip
def test_elements_render_and_parse_back(obj: object) -> None:
    el = obj.to_xml()  # type: ignore[attr-defined]
    assert type(obj).from_xml(el) == obj  # type: ignore[attr-defined]


def test_element_xml_looks_like_libvirts() -> None:
    import xml.etree.ElementTree as ET

    rng = ET.tostring(c.RNG(rate_bytes=1024, rate_period=2000).to_xml(), encoding="unicode")
    assert rng == (
        '<rng model="virtio"><rate bytes="1024" period="2000" />'
        '<backend model="random">/dev/urandom</backend></rng>'
    )
    tune = ET.tostring(c.CPUTune(shares=2048, quota=-1).to_xml(), encoding="unicode")
    assert tune == "<cputune><shares>2048</shares><quota>-1</quota></cputune>"


# -- designer --------------------------------------------------------------------------


def _designed(tmp: Path, virt: str = "test", **host: object) -> tuple[c.Domain, c.Domain]:
    nics = (InterfaceInfo("fa:16:3e:00:00:01", bridge="virbr0"),)
    spec = _spec(FULL_SPECS, {"hw_rng_model": "virtio"})
    dom = build_domain(spec, _boot(tmp, nics), GuestHostConfig(virt, **host))  # type: ignore[arg-type]
    return dom, c.Domain.from_xml_string(dom.to_xml_string())


def _has_the_hardware(dom: c.Domain) -> None:
    assert dom.cpu is not None and dom.cpu.topology == c.CPUTopology(1, 2, 1)
    assert dom.cputune == c.CPUTune(shares=2048, period=20000, quota=10000)
    want_io = c.IOTune(read_bytes_sec=10240000, write_bytes_sec=10485760, total_iops_sec=500)
    assert [d.iotune for d in dom.devices.disks] == [want_io, want_io]
    assert dom.devices.interfaces[0].bandwidth == c.Bandwidth(
        inbound=c.BandwidthRate(32768, 65536, 65536), outbound=c.BandwidthRate(16384)
    )
    assert dom.devices.watchdog == c.Watchdog("i6300esb", "reset")
    assert dom.devices.rngs == [c.RNG(rate_bytes=1024, rate_period=2000)]


def test_designer_applies_every_mapping(tmp_path: Path) -> None:
    dom, parsed = _designed(tmp_path)
    _has_the_hardware(dom)
    assert parsed == dom


def test_designer_without_specs_adds_nothing(tmp_path: Path) -> None:
    dom = build_domain(_spec({}), _boot(tmp_path), GuestHostConfig("test"))
    assert dom.cputune is None and dom.devices.watchdog is None and dom.devices.rngs == []
    assert all(d.iotune is None for d in dom.devices.disks)
    assert dom.cpu is not None and dom.cpu.topology == c.CPUTopology(2, 1, 1)
    assert dom.os.loader is None


def test_uefi_uses_ovmf_with_a_per_guest_vars_file(tmp_path: Path) -> None:
    spec = _spec({}, {"hw_firmware_type": "uefi"})
    host = GuestHostConfig("test", uefi_loader="/usr/share/OVMF/OVMF_CODE_4M.fd",
                           uefi_vars="/usr/share/OVMF/OVMF_VARS_4M.fd")  # fmt: skip
    os = c.Domain.from_xml_string(build_domain(spec, _boot(tmp_path), host).to_xml_string()).os
    assert (os.loader, os.loader_readonly, os.loader_type) == (host.uefi_loader, True, "pflash")
    assert os.nvram == str(tmp_path / "nvram.fd") and os.nvram_template == host.uefi_vars


def test_uefi_without_ovmf_fails_the_boot_naming_the_host(tmp_path: Path) -> None:
    spec = _spec({}, {"hw_firmware_type": "uefi"})
    with pytest.raises(VirtError, match="UEFI firmware \\(OVMF\\) is not installed on host cn7"):
        build_domain(spec, _boot(tmp_path), GuestHostConfig("test", hostname="cn7"))


def test_specs_broken_after_create_become_a_virt_error(tmp_path: Path) -> None:
    with pytest.raises(VirtError, match="hw:watchdog_action"):
        build_domain(_spec({"hw:watchdog_action": "x"}), _boot(tmp_path), GuestHostConfig("test"))


def test_the_test_driver_keeps_the_hardware(tmp_path: Path) -> None:
    dom, _ = _designed(tmp_path)
    conn = libvirt.open("test:///default")
    try:
        guest = conn.defineXML(dom.to_xml_string())
        try:
            _has_the_hardware(c.Domain.from_xml_string(guest.XMLDesc(0)))
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


def test_qemu_accepts_and_keeps_the_hardware(tmp_path: Path, qemu_conn: libvirt.virConnect) -> None:
    """Defined (not started): libvirt checks the elements against QEMU's capabilities."""
    nics = (InterfaceInfo("fa:16:3e:00:00:01", tap="tapsbxhw0"),)
    spec = _spec(FULL_SPECS, {"hw_rng_model": "virtio"})
    dom = build_domain(spec, _boot(tmp_path, nics), GuestHostConfig("qemu"))
    guest = qemu_conn.defineXML(dom.to_xml_string())
    try:
        _has_the_hardware(c.Domain.from_xml_string(guest.XMLDesc(0)))
    finally:
        guest.undefine()


def test_qemu_accepts_uefi(tmp_path: Path, qemu_conn: libvirt.virConnect) -> None:
    ovmf = hw.find_ovmf()
    if ovmf is None:
        pytest.skip("OVMF is not installed here (Debian package ovmf)")
    host = GuestHostConfig("qemu", uefi_loader=ovmf[0], uefi_vars=ovmf[1] or None)
    dom = build_domain(_spec({}, {"hw_firmware_type": "uefi"}), _boot(tmp_path), host)
    guest = qemu_conn.defineXML(dom.to_xml_string())
    try:
        os = c.Domain.from_xml_string(guest.XMLDesc(0)).os
        assert (os.loader, os.loader_type, os.loader_readonly) == (ovmf[0], "pflash", True)
    finally:
        guest.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
