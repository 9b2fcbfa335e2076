"""Which libvirt the compute service talks to, and the host facts the domain designer
needs: `choose_uri(cfg)` picks `qemu:///system` (QEMU, under TCG here) or libvirt's own
`test:///default`, with a sentence saying why; `guest_host_config(cfg, uri)` builds the
`designer.GuestHostConfig` for that URI.

Not here: the connection itself (`host.py`), the XML decisions (`designer.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stackbox import __version__
from stackbox.virt import daemon, designer, hardware

QEMU_BINARY = Path("/usr/bin/qemu-system-x86_64")
QEMU_URI = "qemu:///system"
TEST_URI = "test:///default"


def is_test_uri(uri: str) -> bool:
    return uri.startswith("test://")


def choose_uri(cfg: Any) -> tuple[str, str]:
    """(uri, human reason). compute.virt_uri unless it is "auto"; "auto": qemu:///system
    when QEMU is installed and libvirtd answers (started here if needed, as root), else
    the test driver with the reason QEMU is not available."""
    wanted = str(cfg.get("compute", "virt_uri") or "auto").strip()
    if wanted != "auto":
        kind = "libvirt test driver" if is_test_uri(wanted) else "libvirt"
        return wanted, f"{kind} via {wanted} (compute.virt_uri)"
    if not QEMU_BINARY.exists():
        return TEST_URI, f"libvirt test driver: {QEMU_BINARY} is not installed"
    try:
        daemon.ensure_libvirtd(QEMU_URI)
    except daemon.LibvirtUnavailable as exc:
        return TEST_URI, f"libvirt test driver: {exc}"
    except Exception as exc:  # a host command failed in an unforeseen way
        return TEST_URI, f"libvirt test driver: libvirtd could not be started ({exc})"
    virt_type = str(cfg.get("compute", "virt_type") or "qemu")
    how = "TCG" if virt_type == "qemu" else virt_type.upper()
    return QEMU_URI, f"QEMU ({how}) via {QEMU_URI}"


def guest_host_config(cfg: Any, uri: str) -> designer.GuestHostConfig:
    """What the designer needs to know about this host: domain type "test" for test://
    URIs, else compute.virt_type ("qemu" = TCG, "kvm")."""
    virt_type = "test" if is_test_uri(uri) else str(cfg.get("compute", "virt_type") or "qemu")
    ovmf = hardware.find_ovmf()  # UEFI firmware for hw_firmware_type=uefi images, if any
    return designer.GuestHostConfig(
        virt_type=virt_type,
        vnc_listen=str(cfg.get("compute", "vnc_listen") or "127.0.0.1"),
        package_version=__version__,
        hostname=str(cfg.get("default", "host") or ""),
        uefi_loader=ovmf[0] if ovmf else None,
        uefi_vars=(ovmf[1] or None) if ovmf else None,
    )
