"""Compute services (admin): GET /v2.1/os-services (?binary= &host=), enable/disable
(with a reason), forced down and DELETE.

By microversion, as Nova: before 2.53 services are named by integer id and changed
with PUT /os-services/{enable,disable,disable-log-reason,force-down} and a
{"host","binary"} body; from 2.53 by uuid with PUT /os-services/{uuid}
{"status","disabled_reason","forced_down"}. 2.11 shows and sets `forced_down`.
Deleting a compute service also removes its compute node (409 while instances are on
it). The scheduler already skips disabled and down services. Shared views (state,
zone) are used by the hypervisor, zone and host modules too. Binaries are shown and
filtered by Nova's names (`service_names.py`); the API service is not listed.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from sqlalchemy import delete, func, select

from stackbox.api import errors
from stackbox.api.framework import Req, Router, validate
from stackbox.compute import zones
from stackbox.compute.api import common, service_names
from stackbox.compute.api.microversion import version
from stackbox.compute.models import ComputeNode, Instance
from stackbox.compute.opmodels import AggregateHost
from stackbox.service import registry
from stackbox.service.models import ServiceRecord


def down_time(req: Req) -> float:
    return float(req.state.cfg.get("service", "service_down_time"))


def default_zone(req: Req) -> str:
    return str(req.state.cfg.get("compute", "default_availability_zone"))


def state_of(req: Req, rec: ServiceRecord) -> str:
    return "up" if registry.is_up(rec, down_time(req)) else "down"


def status_of(rec: ServiceRecord) -> str:
    return "disabled" if rec.disabled else "enabled"


def zone_for(rec: ServiceRecord, host_zones: dict[str, str], default: str) -> str:
    if rec.binary not in registry.COMPUTE_BINARIES:
        return registry.INTERNAL_ZONE
    return host_zones.get(rec.host, default)


def compute_services(req: Req) -> dict[str, ServiceRecord]:
    """host → its compute service row."""
    q = select(ServiceRecord).where(ServiceRecord.binary.in_(registry.COMPUTE_BINARIES))
    return {rec.host: rec for rec in req.db.scalars(q)}


def _view(req: Req, rec: ServiceRecord, host_zones: dict[str, str]) -> dict[str, Any]:
    v = version(req)
    body: dict[str, Any] = {
        "id": rec.uuid if v >= (2, 53) else rec.id,
        "binary": service_names.public(rec.binary),
        "disabled_reason": rec.disabled_reason,
        "host": rec.host,
        "state": state_of(req, rec),
        "status": status_of(rec),
        "updated_at": common.iso_us(rec.updated_at),
        "zone": zone_for(rec, host_zones, default_zone(req)),
    }
    if v >= (2, 11):
        body["forced_down"] = rec.forced_down
    return body


def _find(req: Req, ident: str) -> ServiceRecord:
    if version(req) >= (2, 53):
        try:
            uuidlib.UUID(ident)
        except ValueError:
            raise errors.BadRequest(f"Invalid uuid {ident}") from None
        rec = req.db.scalar(select(ServiceRecord).where(ServiceRecord.uuid == ident))
    else:
        try:
            num = int(ident)
        except ValueError:
            raise errors.BadRequest(f"Invalid uuid {ident}") from None
        rec = req.db.get(ServiceRecord, num)
    if rec is None:
        raise errors.NotFound(f"Service {ident} could not be found.")
    return rec


def _by_host_binary(req: Req, body: Any, schema: dict[str, Any]) -> ServiceRecord:
    validate(schema, body)
    rec = req.db.scalar(
        select(ServiceRecord).where(
            ServiceRecord.host == body["host"],
            ServiceRecord.binary == service_names.internal(body["binary"]),
        )
    )
    if rec is None:
        raise errors.NotFound("Unknown service")
    return rec


def _host_binary_schema(**extra: Any) -> dict[str, Any]:
    """A legacy (before 2.53) action's body: host, binary and `extra`; at import only."""
    return {
        "type": "object",
        "properties": {"host": {"type": "string"}, "binary": {"type": "string"}, **extra},
        "required": ["host", "binary", *extra],
        "additionalProperties": False,
    }


_REASON = {"type": "string", "minLength": 1, "maxLength": 255}
ENABLE = _host_binary_schema()
DISABLE_LOG_REASON = _host_binary_schema(disabled_reason=_REASON)
FORCE_DOWN = _host_binary_schema(forced_down={"type": "boolean"})
UPDATE_V253 = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["enabled", "disabled"]},
        "disabled_reason": _REASON,
        "forced_down": {"type": "boolean"},
    },
    "additionalProperties": False,
}


def _update_v253(req: Req, rec: ServiceRecord) -> dict:
    body = req.body
    validate(UPDATE_V253, body)
    if not body:
        raise errors.BadRequest("At least one of 'status' or 'forced_down' must be specified.")
    status = body.get("status")
    if "disabled_reason" in body and status != "disabled":
        raise errors.BadRequest(
            "Specifying 'disabled_reason' with status other than 'disabled' is invalid."
        )
    if "status" not in body and "forced_down" not in body:
        raise errors.BadRequest("At least one of 'status' or 'forced_down' must be specified.")
    if rec.binary not in registry.COMPUTE_BINARIES:
        raise errors.BadRequest(
            f"Updating a {service_names.public(rec.binary)} service is not supported. "
            "Only compute services can be updated."
        )
    if status == "disabled":
        rec.disabled = True
        rec.disabled_reason = body.get("disabled_reason")
    elif status == "enabled":
        rec.disabled = False
        rec.disabled_reason = None
    if "forced_down" in body:
        rec.forced_down = body["forced_down"]
    req.db.flush()
    return {"service": _view(req, rec, zones.host_zones(req.db, default_zone(req)))}


def _legacy_action(req: Req, action: str) -> dict:
    v = version(req)
    if action in ("enable", "disable"):
        rec = _by_host_binary(req, req.body, ENABLE)
        shown = service_names.public(rec.binary)
        rec.disabled = action == "disable"
        rec.disabled_reason = None
        return {"service": {"binary": shown, "host": rec.host, "status": status_of(rec)}}
    if action == "disable-log-reason":
        rec = _by_host_binary(req, req.body, DISABLE_LOG_REASON)
        rec.disabled = True
        rec.disabled_reason = req.body["disabled_reason"]
        return {
            "service": {
                "binary": service_names.public(rec.binary),
                "host": rec.host,
                "status": "disabled",
                "disabled_reason": rec.disabled_reason,
            }
        }
    if action == "force-down" and v >= (2, 11):
        rec = _by_host_binary(req, req.body, FORCE_DOWN)
        rec.forced_down = req.body["forced_down"]
        shown = service_names.public(rec.binary)
        return {"service": {"binary": shown, "host": rec.host, "forced_down": rec.forced_down}}
    raise errors.NotFound(f"Unknown action {action}")


def delete_service(req: Req, rec: ServiceRecord) -> None:
    """Remove a service; a compute service takes its compute node and aggregate
    memberships along, unless instances still live on the host (409)."""
    db = req.db
    if rec.binary in registry.COMPUTE_BINARIES:
        hosting = db.scalar(
            select(func.count())
            .select_from(Instance)
            .where(Instance.host == rec.host, Instance.deleted.is_(False))
        )
        if hosting:
            raise errors.Conflict(
                "Unable to delete compute service that is hosting instances. "
                "Migrate or delete the instances first."
            )
        db.execute(delete(ComputeNode).where(ComputeNode.host == rec.host))
        db.execute(delete(AggregateHost).where(AggregateHost.host == rec.host))
    db.delete(rec)


def register(router: Router) -> None:
    @router.route("GET", "/v2.1/os-services")
    def index(req: Req) -> dict:
        req.authorize("os_compute_api:os-services:list")
        if version(req) >= (2, 75):
            common.reject_unknown_query(req, {"host", "binary"})
        q = select(ServiceRecord).order_by(ServiceRecord.id)
        if req.query.get("host"):
            q = q.where(ServiceRecord.host == req.query["host"])
        if req.query.get("binary"):
            q = q.where(ServiceRecord.binary == service_names.internal(req.query["binary"]))
        host_zones = zones.host_zones(req.db, default_zone(req))
        rows = [rec for rec in req.db.scalars(q) if service_names.listed(rec.binary)]
        return {"services": [_view(req, rec, host_zones) for rec in rows]}

    @router.route("PUT", "/v2.1/os-services/{ident}")
    def update(req: Req) -> dict:
        req.authorize("os_compute_api:os-services:update")
        ident = req.params["ident"]
        if version(req) >= (2, 53):
            return _update_v253(req, _find(req, ident))
        return _legacy_action(req, ident)

    @router.route("DELETE", "/v2.1/os-services/{ident}")
    def remove(req: Req) -> tuple[None, int]:
        req.authorize("os_compute_api:os-services:delete")
        delete_service(req, _find(req, req.params["ident"]))
        return None, 204
