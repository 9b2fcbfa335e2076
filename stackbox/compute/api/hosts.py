"""Hosts (admin, deprecated in Nova and gone from 2.43): GET /v2.1/os-hosts (one row
per service but the API's: host_name, service (its topic), zone; ?zone=), GET /os-hosts/{host}
(Compute admin guide 5.4.10: `(total)`, `(used_now)`, `(used_max)` and one row per
project with instances there), PUT /os-hosts/{host} {"status": "enable"|"disable"}
and the power actions (not supported by libvirt: 501, as Nova says). The
`openstack host list/show/set` commands call these at 2.1."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from stackbox.api import errors
from stackbox.api.framework import Req, Router, validate
from stackbox.compute import zones
from stackbox.compute.api import service_names
from stackbox.compute.api.hypervisors import counters
from stackbox.compute.api.microversion import version
from stackbox.compute.api.services import compute_services, default_zone, zone_for
from stackbox.compute.models import ComputeNode, Instance
from stackbox.service import registry

UPDATE = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["enable", "disable", "Enable", "Disable"]},
        "maintenance_mode": {
            "type": "string",
            "enum": ["enable", "disable", "Enable", "Disable"],
        },
    },
    "minProperties": 1,
    "additionalProperties": False,
}


def _deprecated(req: Req) -> None:
    if version(req) >= (2, 43):
        raise errors.NotFound("The resource could not be found.")


def _node(req: Req, host: str) -> ComputeNode:
    node = req.db.scalar(select(ComputeNode).where(ComputeNode.host == host))
    if node is None:
        raise errors.NotFound(f"Compute host {host} could not be found.")
    return node


def _row(host: str, project: str, cpu: int, mem: int, disk: int) -> dict[str, Any]:
    return {
        "resource": {
            "host": host,
            "project": project,
            "cpu": cpu,
            "memory_mb": mem,
            "disk_gb": disk,
        }
    }


def host_resources(req: Req, node: ComputeNode) -> list[dict[str, Any]]:
    """The rows `openstack host show` prints."""
    now = counters(node)
    rows = [
        _row(node.host, "(total)", node.vcpus, node.memory_mb, node.local_gb),
        _row(
            node.host, "(used_now)", now["vcpus_used"], now["memory_mb_used"], now["local_gb_used"]
        ),
    ]
    per_project: dict[str, list[int]] = {}
    q = select(Instance).where(Instance.host == node.host, Instance.deleted.is_(False))
    for inst in req.db.scalars(q):
        fl = inst.flavor or {}
        sums = per_project.setdefault(inst.project_id, [0, 0, 0])
        sums[0] += int(fl.get("vcpus", 0))
        sums[1] += int(fl.get("memory_mb", 0))
        sums[2] += int(fl.get("root_gb", 0)) + int(fl.get("ephemeral_gb", 0))
    total = [sum(col) for col in zip(*per_project.values(), strict=False)] or [0, 0, 0]
    rows.append(_row(node.host, "(used_max)", *total))
    rows.extend(_row(node.host, p, *s) for p, s in sorted(per_project.items()))
    return rows


def register(router: Router) -> None:
    @router.route("GET", "/v2.1/os-hosts")
    def index(req: Req) -> dict:
        _deprecated(req)
        req.authorize("os_compute_api:os-hosts:list")
        host_zones = zones.host_zones(req.db, default_zone(req))
        wanted = req.query.get("zone")
        hosts = []
        for rec in registry.list_services(req.db):
            if not service_names.listed(rec.binary):
                continue
            zone = zone_for(rec, host_zones, default_zone(req))
            if wanted and zone != wanted:
                continue
            hosts.append({"host_name": rec.host, "service": rec.topic, "zone": zone})
        return {"hosts": hosts}

    @router.route("GET", "/v2.1/os-hosts/{host}")
    def show(req: Req) -> dict:
        _deprecated(req)
        req.authorize("os_compute_api:os-hosts:show")
        return {"host": host_resources(req, _node(req, req.params["host"]))}

    @router.route("PUT", "/v2.1/os-hosts/{host}")
    def update(req: Req) -> dict:
        _deprecated(req)
        req.authorize("os_compute_api:os-hosts:update")
        validate(UPDATE, req.body)
        host = req.params["host"]
        rec = compute_services(req).get(host)
        if rec is None:
            raise errors.NotFound(f"Compute host {host} could not be found.")
        if "maintenance_mode" in req.body:
            raise errors.NotImplementedYet("Virt driver does not implement host maintenance mode.")
        enable = req.body["status"].lower() == "enable"
        rec.disabled = not enable
        if enable:
            rec.disabled_reason = None
        return {"host": host, "status": "enabled" if enable else "disabled"}

    def _power(action: str) -> None:
        @router.route("GET", f"/v2.1/os-hosts/{{host}}/{action}")
        def power(req: Req) -> dict:
            _deprecated(req)
            req.authorize(f"os_compute_api:os-hosts:{'start' if action == 'startup' else action}")
            _node(req, req.params["host"])
            raise errors.NotImplementedYet("Virt driver does not implement host power management.")

    for _action in ("startup", "shutdown", "reboot"):
        _power(_action)
