"""Guest diagnostics from libvirt (Compute admin guide 5.4.6.2.2): memory statistics,
per-vCPU times, per-disk block counters and per-NIC interface counters of one domain,
as a plain dict the compute API renders (`stackbox/compute/api/server_diagnostics.py`).

Reads libvirt only (works on `test:///default`, which answers every call used here);
counters a hypervisor cannot give are left out rather than invented. Not here: the
API's shapes, the database.
"""

from __future__ import annotations

import contextlib
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import libvirt

from stackbox.virt.guest import STATE_NAMES, translate


def _devices(xml: str) -> tuple[list[str], list[tuple[str, str]]]:
    """(disk targets, [(nic target, mac)]) from the live domain XML."""
    root = ET.fromstring(xml)
    disks = [
        t.get("dev", "")
        for d in root.iterfind("./devices/disk")
        if (t := d.find("target")) is not None and d.get("device", "disk") == "disk"
    ]
    nics = []
    for n in root.iterfind("./devices/interface"):
        target = n.find("target")
        mac = n.find("mac")
        nics.append(
            (
                target.get("dev", "") if target is not None else "",
                mac.get("address", "") if mac is not None else "",
            )
        )
    return disks, nics


def _uptime(dom: libvirt.virDomain) -> int | None:
    """Seconds since the QEMU process started (its pid file), when there is one."""
    for base in ("/run/libvirt/qemu", "/var/run/libvirt/qemu"):
        pid = Path(base) / f"{dom.name()}.pid"
        with contextlib.suppress(OSError):
            return max(int(time.time() - pid.stat().st_mtime), 0)
    return None


def for_guest(conn: libvirt.virConnect, uuid: str, hypervisor: str) -> dict[str, Any]:
    with translate(f"cannot look up guest {uuid}", uuid):
        dom = conn.lookupByUUIDString(uuid)
    return collect(dom, hypervisor)


def collect(dom: libvirt.virDomain, hypervisor: str) -> dict[str, Any]:
    """Everything libvirt tells about a domain's activity."""
    with translate(f"cannot read diagnostics of guest {dom.name()}", dom.UUIDString()):
        state, _max_kb, mem_kb, ncpus, _cpu_time = dom.info()
        active = bool(dom.isActive())
        disks, nics = _devices(dom.XMLDesc(0))
        out: dict[str, Any] = {
            "state": STATE_NAMES.get(state, "no state"),
            "driver": "libvirt",
            "hypervisor": hypervisor.lower(),
            "hypervisor_os": "linux",
            "uptime": _uptime(dom) if active else None,
            "num_cpus": ncpus,
            "memory": {"maximum_kb": int(dom.maxMemory()), "used_kb": int(mem_kb), "stats": {}},
            "cpus": [],
            "disks": [],
            "nics": [],
        }
        if not active:
            return out
        with contextlib.suppress(libvirt.libvirtError):
            out["memory"]["stats"] = {k: int(v) for k, v in dom.memoryStats().items()}
        with contextlib.suppress(libvirt.libvirtError):
            for vcpu_id, _st, cpu_time, _pcpu in dom.vcpus()[0]:
                out["cpus"].append({"id": vcpu_id, "time": int(cpu_time)})
        for dev in disks:
            try:
                rd_req, rd_bytes, wr_req, wr_bytes, errs = dom.blockStats(dev)
            except libvirt.libvirtError:
                continue
            out["disks"].append(
                {
                    "target": dev,
                    "read_bytes": rd_bytes,
                    "read_requests": rd_req,
                    "write_bytes": wr_bytes,
                    "write_requests": wr_req,
                    "errors_count": errs,
                }
            )
        for dev, mac in nics:
            try:
                st = dom.interfaceStats(dev or mac)
            except libvirt.libvirtError:
                continue
            rx_b, rx_p, rx_e, rx_d, tx_b, tx_p, tx_e, tx_d = st
            out["nics"].append(
                {
                    "target": dev,
                    "mac_address": mac,
                    "rx_octets": rx_b,
                    "rx_packets": rx_p,
                    "rx_errors": rx_e,
                    "rx_drop": rx_d,
                    "tx_octets": tx_b,
                    "tx_packets": tx_p,
                    "tx_errors": tx_e,
                    "tx_drop": tx_d,
                }
            )
    return out
