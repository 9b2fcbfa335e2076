"""Boot the test guest under libvirt (QEMU TCG): from its qcow2 disk with a config drive,
and as a kernel/ramdisk pair; the ready line, the metadata, user_data, the SSH banner, and
power-off on ACPI shutdown (`virsh shutdown`).

QEMU's user-mode network gives the guest DHCP (10.0.2.15) inside QEMU only; the guest
reads its metadata from the config drive, so nothing leaves the host.
"""

from __future__ import annotations

import ipaddress
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest

from stackbox import privileged
from stackbox.guest.build import GuestArtifacts
from stackbox.guest.configdrive import make_config_drive
from stackbox.virt.daemon import LibvirtUnavailable, ensure_libvirtd

pytestmark = pytest.mark.libvirt

READY = re.compile(r"stackbox-guest: ready instance=(\S+) addresses=(\S+)")
MARKER = "sbx-user-data-ran"
USER_DATA = f"#!/bin/sh\necho {MARKER} $(hostname)\nnc 127.0.0.1 22 </dev/null\n".encode()


@pytest.fixture(scope="session")
def libvirtd() -> str:
    if os.geteuid() != 0:
        pytest.skip("booting guests needs root (libvirtd on qemu:///system)")
    if not privileged.available("qemu-system-x86_64"):
        pytest.skip("QEMU is not installed (qemu-system-x86)")
    try:
        return ensure_libvirtd()
    except LibvirtUnavailable as exc:
        pytest.skip(f"libvirtd cannot start here: {exc}")


@pytest.fixture
def domains() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        privileged.virsh(["destroy", name], check=False, timeout=30)


def _domain_xml(name: str, console: Path, os_xml: str, disks: str) -> str:
    log = quoteattr(str(console))
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    {os_xml}
  </os>
  <features><acpi/><apic/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    {disks}
    <interface type='user'><model type='virtio'/></interface>
    <serial type='file'><source path={log}/><target port='0'/></serial>
    <console type='file'><source path={log}/><target type='serial' port='0'/></console>
  </devices>
</domain>
"""


def _disk(path: Path, fmt: str, device: str, target: str, bus: str) -> str:
    ro = "<readonly/>" if device == "cdrom" else ""
    return (
        f"<disk type='file' device='{device}'><driver name='qemu' type='{fmt}'/>"
        f"<source file={quoteattr(str(path))}/><target dev='{target}' bus='{bus}'/>{ro}</disk>"
    )


def _boot(name: str, xml: str, tmp_path: Path, domains: list[str]) -> float:
    (tmp_path / f"{name}.xml").write_text(xml)
    domains.append(name)
    privileged.virsh(["create", str(tmp_path / f"{name}.xml")], timeout=60)
    return time.monotonic()


def _wait_for(console: Path, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = console.read_text(errors="replace") if console.exists() else ""
        if m := pattern.search(text):
            return m
        time.sleep(0.1)
    pytest.fail(f"no {pattern.pattern!r} on the console in {timeout:.0f} s:\n{text[-3000:]}")


def _gone(name: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if privileged.virsh(["domstate", name], check=False, timeout=30).returncode != 0:
            return True
        time.sleep(0.25)
    return False


def _config_drive(tmp_path: Path, instance: str) -> Path:
    meta = {"uuid": instance, "hostname": "sbx-tiny", "name": "sbx-tiny"}
    return make_config_drive(tmp_path / "disk.config", meta, user_data=USER_DATA)


def test_boot_disk_with_config_drive_and_acpi_shutdown(
    libvirtd: str, guest: GuestArtifacts, domains: list[str], tmp_path: Path
) -> None:
    instance = str(uuid.uuid4())
    overlay = tmp_path / "disk"
    privileged.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(guest.disk),
         str(overlay)]
    )  # fmt: skip
    disks = _disk(overlay, "qcow2", "disk", "vda", "virtio") + _disk(
        _config_drive(tmp_path, instance), "raw", "cdrom", "hdc", "ide"
    )
    console = tmp_path / "console.log"
    name = f"sbx-test-disk-{instance[:8]}"
    started = _boot(name, _domain_xml(name, console, "<boot dev='hd'/>", disks), tmp_path, domains)

    ready = _wait_for(console, READY, 120)
    boot_time = time.monotonic() - started
    print(f"\n[guest] disk boot to the ready line: {boot_time:.1f} s ({ready.group(0)})")
    assert ready.group(1) == instance
    addresses = ready.group(2).split(",")
    assert any(ipaddress.ip_address(a) in ipaddress.ip_network("10.0.2.0/24") for a in addresses), (
        addresses
    )
    _wait_for(console, re.compile(rf"{MARKER} sbx-tiny"), 60)  # user_data, hostname
    _wait_for(console, re.compile(r"SSH-2\.0-stackbox-guest"), 30)  # port 22 banner
    assert console.read_text().count("stackbox-guest: ready") == 1

    shutdown = time.monotonic()
    privileged.virsh(["shutdown", name], timeout=30)
    assert _gone(name, 60), "the guest did not power off within 60 s of an ACPI shutdown"
    print(f"[guest] ACPI shutdown to domain gone: {time.monotonic() - shutdown:.1f} s")


def test_boot_kernel_and_ramdisk(
    libvirtd: str, guest: GuestArtifacts, domains: list[str], tmp_path: Path
) -> None:
    instance = str(uuid.uuid4())
    os_xml = (
        f"<kernel>{guest.kernel}</kernel><initrd>{guest.ramdisk}</initrd>"
        "<cmdline>console=ttyS0</cmdline>"
    )
    # the config drive on a virtio disk this time (the other path the guest looks at)
    disks = _disk(_config_drive(tmp_path, instance), "raw", "disk", "vdb", "virtio")
    console = tmp_path / "console.log"
    name = f"sbx-test-kernel-{instance[:8]}"
    started = _boot(name, _domain_xml(name, console, os_xml, disks), tmp_path, domains)

    ready = _wait_for(console, READY, 120)
    print(f"\n[guest] kernel/ramdisk boot to the ready line: {time.monotonic() - started:.1f} s")
    assert ready.group(1) == instance
    assert "10.0.2.15" in ready.group(2).split(",")
    _wait_for(console, re.compile(MARKER), 60)
    privileged.virsh(["shutdown", name], timeout=30)
    assert _gone(name, 60)
