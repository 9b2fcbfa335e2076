"""Server diagnostics (admin): GET /v2.1/servers/{id}/diagnostics, asked of the
server's compute host (ComputeAPI.get_diagnostics → LibvirtDriver.diagnostics).

From 2.48 the standard shape (state, driver, hypervisor, uptime, num_*, memory_details
in MiB, cpu_details, disk_details, nic_details); before it libvirt's flat keys as
Nova's libvirt driver names them (`cpu0_time`, `memory`, `memory-<stat>`,
`vda_read`..., `<nic>_rx`...; Compute admin guide 5.4.6.2.2). `openstack server show
--diagnostics` reads the 2.48 shape.
"""

from __future__ import annotations

from typing import Any

from stackbox import bus as sbbus
from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.compute import states
from stackbox.compute.api import lookup
from stackbox.compute.api import server_action_base as base
from stackbox.compute.api.microversion import version
from stackbox.db.base import utcnow


def standard(diag: dict[str, Any], config_drive: bool) -> dict[str, Any]:
    """The 2.48 view of the driver's diagnostics."""
    mem = diag.get("memory") or {}
    stats = mem.get("stats") or {}
    used_kb = mem.get("used_kb", 0)
    if "actual" in stats and "unused" in stats:
        used_kb = stats["actual"] - stats["unused"]
    return {
        "state": diag.get("state"),
        "driver": diag.get("driver", "libvirt"),
        "hypervisor": diag.get("hypervisor"),
        "hypervisor_os": diag.get("hypervisor_os"),
        "uptime": diag.get("uptime"),
        "config_drive": config_drive,
        "num_cpus": diag.get("num_cpus", len(diag.get("cpus", []))),
        "num_nics": len(diag.get("nics", [])),
        "num_disks": len(diag.get("disks", [])),
        "disk_details": [
            {
                k: d[k]
                for k in (
                    "read_bytes",
                    "read_requests",
                    "write_bytes",
                    "write_requests",
                    "errors_count",
                )
            }
            for d in diag.get("disks", [])
        ],
        "cpu_details": [
            {"id": c["id"], "time": c["time"], "utilisation": None} for c in diag.get("cpus", [])
        ],
        "nic_details": [
            {
                "mac_address": n["mac_address"],
                "rx_octets": n["rx_octets"],
                "rx_errors": n["rx_errors"],
                "rx_drop": n["rx_drop"],
                "rx_packets": n["rx_packets"],
                "rx_rate": None,
                "tx_octets": n["tx_octets"],
                "tx_errors": n["tx_errors"],
                "tx_drop": n["tx_drop"],
                "tx_packets": n["tx_packets"],
                "tx_rate": None,
            }
            for n in diag.get("nics", [])
        ],
        "memory_details": {
            "maximum": int(mem.get("maximum_kb", 0)) // 1024,
            "used": int(used_kb) // 1024,
        },
    }


def legacy(diag: dict[str, Any]) -> dict[str, Any]:
    """The pre-2.48 flat libvirt keys."""
    out: dict[str, Any] = {}
    for c in diag.get("cpus", []):
        out[f"cpu{c['id']}_time"] = c["time"]
    mem = diag.get("memory") or {}
    out["memory"] = mem.get("maximum_kb", 0)
    for key, value in (mem.get("stats") or {}).items():
        out[f"memory-{key}"] = value
    for d in diag.get("disks", []):
        t = d["target"]
        out[f"{t}_read_req"] = d["read_requests"]
        out[f"{t}_read"] = d["read_bytes"]
        out[f"{t}_write_req"] = d["write_requests"]
        out[f"{t}_write"] = d["write_bytes"]
        out[f"{t}_errors"] = d["errors_count"]
    for n in diag.get("nics", []):
        t = n["target"] or n["mac_address"]
        for suffix, key in (
            ("rx", "rx_octets"),
            ("rx_packets", "rx_packets"),
            ("rx_errors", "rx_errors"),
            ("rx_drop", "rx_drop"),
            ("tx", "tx_octets"),
            ("tx_packets", "tx_packets"),
            ("tx_errors", "tx_errors"),
            ("tx_drop", "tx_drop"),
        ):
            out[f"{t}_{suffix}"] = n[key]
    return out


def register(router: Router) -> None:
    @router.route("GET", "/v2.1/servers/{server_id}/diagnostics", blocking=True)
    def show(req: Req) -> dict:
        inst = lookup.get_instance(req, req.params["server_id"])
        base.authorize(req, "os_compute_api:os-server-diagnostics", inst)
        base.check_host(inst)
        if inst.task_state == states.DELETING or inst.vm_state == states.BUILDING:
            raise errors.Conflict(
                f"Cannot 'get_diagnostics' instance {inst.uuid} while it is in "
                f"vm_state {inst.vm_state}"
            )
        try:
            diag = base.send(
                req, base.compute(req).get_diagnostics, inst.host, base.instance_payload(inst)
            )
        except sbbus.RemoteError as exc:
            if exc.exc_type in ("NotImplementedError", "AttributeError"):
                raise errors.NotImplementedYet(
                    "Unable to get diagnostics, functionality not implemented"
                ) from None
            raise errors.Conflict(f"Instance {inst.uuid} is not ready") from None
        except sbbus.RPCTimeout:
            raise errors.Conflict(f"Instance {inst.uuid} is not ready") from None
        if diag.get("uptime") is None and inst.launched_at is not None:
            # no QEMU process to time (e.g. the test driver): since launch, as Nova counts
            diag["uptime"] = int((utcnow() - inst.launched_at).total_seconds())
        if version(req) >= (2, 48):
            return standard(diag, inst.config_drive == "True")
        return legacy(diag)
