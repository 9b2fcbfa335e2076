"""THE server view builder of the Compute API: how one instance row looks in a response,
microversion by microversion (Nova's `views/servers.py` shapes, checked against the
samples in /work/shared/api-samples/compute/server-get-*.json).

- `show_view(req, inst)`   -> the inner dict of GET /servers/{id} ({"server": <this>}).
- `detail_view(req, inst)` -> one entry of GET /servers/detail (same keys as show, minus
  `server_groups`, host_status last, as Nova renders the list).
- `list_view(req, inst)`   -> one entry of GET /servers: {id, links, name}.

Nothing here writes the database or checks anything but read policies; handlers do the
lookups (`lookup.get_instance`) and hand the row in.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select

from stackbox.api.framework import Req
from stackbox.compute import states
from stackbox.compute.api import common
from stackbox.compute.api.microversion import version
from stackbox.compute.api.server_groups import groups_of
from stackbox.compute.cloud import instance_name
from stackbox.compute.models import Instance, InstanceFault
from stackbox.service import registry
from stackbox.service.models import ServiceRecord

# Statuses that carry a `progress` key (Nova's _progress_statuses).
_PROGRESS_STATUSES = ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING")
COMPUTE_BINARY = "stackbox-compute"
DEFAULT_ZONE = "nova"


def list_view(req: Req, inst: Instance) -> dict[str, Any]:
    return {
        "id": inst.uuid,
        "name": inst.display_name,
        "links": common.links(req, "servers", inst.uuid),
    }


def host_id(inst: Instance) -> str:
    """sha224(project_id + host), "" when the instance has no host (Nova's hostId)."""
    if not inst.host:
        return ""
    return hashlib.sha224((inst.project_id + inst.host).encode()).hexdigest()


def flavor_view(req: Req, inst: Instance) -> dict[str, Any]:
    flv = inst.flavor or {}
    if version(req) < (2, 47):
        fid = str(flv.get("flavorid", ""))
        return {"id": fid, "links": common.bookmark(req, "flavors", fid)}
    out: dict[str, Any] = {
        "vcpus": flv.get("vcpus", 0),
        "ram": flv.get("memory_mb", 0),
        "disk": flv.get("root_gb", 0),
        "ephemeral": flv.get("ephemeral_gb", 0),
        "swap": flv.get("swap", 0),
        "original_name": flv.get("name", ""),
    }
    if req.allowed("os_compute_api:os-flavor-extra-specs:index"):
        out["extra_specs"] = dict(flv.get("extra_specs") or {})
    return out


def image_view(req: Req, inst: Instance) -> dict[str, Any] | str:
    if not inst.image_ref:
        return ""
    out: dict[str, Any] = {
        "id": inst.image_ref,
        "links": common.bookmark(req, "images", inst.image_ref),
    }
    if version(req) >= (2, 98):
        props = (inst.image_meta or {}).get("properties") or {}
        out["properties"] = {k: str(v) for k, v in props.items()}
    return out


def fault_view(req: Req, inst: Instance) -> dict[str, Any] | None:
    """The latest fault of an ERROR (or DELETED) instance; `details` for admins, or
    for anything but a 500 (Nova hides internal tracebacks from users)."""
    row = req.db.scalar(
        select(InstanceFault)
        .where(InstanceFault.instance_uuid == inst.uuid)
        .order_by(InstanceFault.created_at.desc(), InstanceFault.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    out: dict[str, Any] = {
        "code": row.code,
        "created": common.iso(row.created_at),
        "message": row.message,
    }
    if row.details and (row.code != 500 or req.allowed("context_is_admin")):
        out["details"] = row.details
    return out


def compute_service(req: Req, host: str) -> ServiceRecord | None:
    """The services row of the compute service on `host`, if it runs one."""
    return req.db.scalar(
        select(ServiceRecord).where(
            ServiceRecord.host == host, ServiceRecord.binary == COMPUTE_BINARY
        )
    )


def host_status(req: Req, inst: Instance) -> str:
    """UP / DOWN (forced down) / MAINTENANCE (disabled) / UNKNOWN (heartbeat late),
    "" when the instance has no host or the host runs no compute service."""
    if not inst.host:
        return ""
    rec = compute_service(req, inst.host)
    if rec is None:
        return ""
    if rec.forced_down:
        return "DOWN"
    if registry.is_up(rec, float(req.state.cfg.get("service", "service_down_time"))):
        return "MAINTENANCE" if rec.disabled else "UP"
    return "UNKNOWN"


def availability_zone(inst: Instance) -> str:
    if inst.availability_zone:
        return inst.availability_zone
    return DEFAULT_ZONE if inst.host else ""


def volumes_attached(req: Req, inst: Instance) -> list[dict[str, Any]]:
    out = []
    for bdm in inst.block_devices or []:
        vid = bdm.get("volume_id") if isinstance(bdm, dict) else None
        if not vid:
            continue
        item: dict[str, Any] = {"id": vid}
        if version(req) >= (2, 3):
            item["delete_on_termination"] = bool(bdm.get("delete_on_termination", False))
        out.append(item)
    return out


def _server(req: Req, inst: Instance, *, detail: bool) -> dict[str, Any]:
    mv = version(req)
    status = states.status(inst.vm_state, inst.task_state)
    admin_attrs = req.allowed("os_compute_api:os-extended-server-attributes")
    s: dict[str, Any] = {
        "accessIPv4": inst.access_ip_v4 or "",
        "accessIPv6": inst.access_ip_v6 or "",
        "addresses": {},
        "created": common.iso(inst.created_at),
        "flavor": flavor_view(req, inst),
        "hostId": host_id(inst),
        "id": inst.uuid,
        "image": image_view(req, inst),
        "links": common.links(req, "servers", inst.uuid),
        "metadata": inst.meta,
        "name": inst.display_name,
        "status": status,
        "tenant_id": inst.project_id,
        "user_id": inst.user_id,
        "updated": common.iso(inst.updated_at),
    }
    if status in ("ERROR", "DELETED"):
        fault = fault_view(req, inst)
        if fault is not None:
            s["fault"] = fault
    s["OS-DCF:diskConfig"] = inst.disk_config or "MANUAL"
    if status in _PROGRESS_STATUSES:
        s["progress"] = inst.progress or 0
    s["OS-EXT-AZ:availability_zone"] = availability_zone(inst)
    s["config_drive"] = inst.config_drive or ""
    s["key_name"] = inst.key_name
    s["OS-SRV-USG:launched_at"] = common.iso_us(inst.launched_at)
    s["OS-SRV-USG:terminated_at"] = common.iso_us(inst.terminated_at)
    if admin_attrs:
        s["OS-EXT-SRV-ATTR:host"] = inst.host
        s["OS-EXT-SRV-ATTR:instance_name"] = instance_name(
            req.db, req.state.cfg.get("compute", "instance_name_template"), inst.id
        )
        s["OS-EXT-SRV-ATTR:hypervisor_hostname"] = inst.node
    if mv >= (2, 3) and admin_attrs:
        s["OS-EXT-SRV-ATTR:hostname"] = inst.hostname
        s["OS-EXT-SRV-ATTR:kernel_id"] = inst.kernel_id or ""
        s["OS-EXT-SRV-ATTR:launch_index"] = inst.launch_index
        s["OS-EXT-SRV-ATTR:ramdisk_id"] = inst.ramdisk_id or ""
        s["OS-EXT-SRV-ATTR:reservation_id"] = inst.reservation_id
        s["OS-EXT-SRV-ATTR:root_device_name"] = inst.root_device_name
        s["OS-EXT-SRV-ATTR:user_data"] = inst.user_data
    elif mv >= (2, 90):  # the hostname is every user's from 2.90
        s["OS-EXT-SRV-ATTR:hostname"] = inst.hostname
    s["OS-EXT-STS:task_state"] = inst.task_state
    s["OS-EXT-STS:vm_state"] = inst.vm_state
    s["OS-EXT-STS:power_state"] = inst.power_state
    s["os-extended-volumes:volumes_attached"] = volumes_attached(req, inst)
    if mv >= (2, 9):
        s["locked"] = bool(inst.locked)
    show_host_status = mv >= (2, 16) and req.allowed("os_compute_api:servers:show:host_status")
    if show_host_status and not detail:
        s["host_status"] = host_status(req, inst)
    if mv >= (2, 19):
        s["description"] = inst.display_description
    if mv >= (2, 26):
        s["tags"] = [t.tag for t in inst.tags]
    if mv >= (2, 63):
        s["trusted_image_certificates"] = None
    if mv >= (2, 71) and not detail:
        s["server_groups"] = groups_of(req.db, inst.uuid)
    if mv >= (2, 73):
        s["locked_reason"] = inst.locked_reason
    if mv >= (2, 96):
        s["pinned_availability_zone"] = (inst.system_metadata or {}).get("pinned_availability_zone")
    if mv >= (2, 100):
        s["scheduler_hints"] = dict((inst.system_metadata or {}).get("scheduler_hints") or {})
    if show_host_status and detail:
        s["host_status"] = host_status(req, inst)
    return s


def show_view(req: Req, inst: Instance) -> dict[str, Any]:
    """GET /servers/{id}'s server at the request's microversion (not wrapped)."""
    return _server(req, inst, detail=False)


def detail_view(req: Req, inst: Instance) -> dict[str, Any]:
    """One server of GET /servers/detail at the request's microversion (not wrapped)."""
    return _server(req, inst, detail=True)


# Left out of PUT /servers/{id} and rebuild responses before 2.75 (Nova renders those
# without the extension attributes); from 2.75 they are the full show view.
_NOT_IN_UPDATE = (
    "OS-EXT-AZ:",
    "OS-SRV-USG:",
    "OS-EXT-SRV-ATTR:",
    "OS-EXT-STS:",
    "os-extended-volumes:",
    "config_drive",
    "key_name",
    "host_status",
    "server_groups",
)


def update_view(req: Req, inst: Instance) -> dict[str, Any]:
    """The server of PUT /servers/{id} at the request's microversion (rebuild's view,
    `server_action_resize.rebuild_view`, starts from it)."""
    full = show_view(req, inst)
    if version(req) >= (2, 75):
        return full
    return {k: v for k, v in full.items() if not k.startswith(_NOT_IN_UPDATE)}
