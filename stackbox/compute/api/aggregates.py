"""Host aggregates (admin only): /v2.1/os-aggregates — list, create, show, update,
delete, and the actions add_host, remove_host and set_metadata.

An aggregate's availability zone is its `availability_zone` metadata (zones.py reads
it). As in Nova: names are unique (409), a non-empty aggregate cannot be deleted (400),
a host must have a compute service (404), may be added once (409), and may not sit in
two aggregates with different zones (400). 2.41 adds `uuid` to the views. Metadata
changes replace rows (delete + insert) so the scheduler's change detector sees them.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from stackbox.api import errors
from stackbox.api.framework import Req, Router, validate
from stackbox.compute import zones
from stackbox.compute.api import common
from stackbox.compute.api.microversion import version
from stackbox.compute.models import Instance
from stackbox.compute.opmodels import Aggregate, AggregateHost, AggregateMetadata
from stackbox.service.models import ServiceRecord

_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
_ZONE = {"type": ["string", "null"], "minLength": 1, "maxLength": 255}
CREATE = {
    "type": "object",
    "properties": {
        "aggregate": {
            "type": "object",
            "properties": {"name": _NAME, "availability_zone": _ZONE},
            "required": ["name"],
            "additionalProperties": False,
        }
    },
    "required": ["aggregate"],
    "additionalProperties": False,
}
UPDATE = {
    "type": "object",
    "properties": {
        "aggregate": {
            "type": "object",
            "properties": {"name": _NAME, "availability_zone": _ZONE},
            "minProperties": 1,
            "additionalProperties": False,
        }
    },
    "required": ["aggregate"],
    "additionalProperties": False,
}
_HOST = {
    "type": "object",
    "properties": {"host": {"type": "string", "minLength": 1, "maxLength": 255}},
    "required": ["host"],
    "additionalProperties": False,
}
_META = {
    "type": "object",
    "properties": {
        "metadata": {
            "type": "object",
            "patternProperties": {
                r"^[a-zA-Z0-9-_:. /]{1,255}$": {"type": ["string", "null"], "maxLength": 255}
            },
            "additionalProperties": False,
        }
    },
    "required": ["metadata"],
    "additionalProperties": False,
}
ACTION = {
    "type": "object",
    "properties": {"add_host": _HOST, "remove_host": _HOST, "set_metadata": _META},
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": False,
}


def _view(req: Req, agg: Aggregate, *, full: bool = True) -> dict[str, Any]:
    meta = agg.meta
    body: dict[str, Any] = {
        "availability_zone": meta.get(zones.AZ_KEY),
        "created_at": common.iso_us(agg.created_at),
        "deleted": False,
        "deleted_at": None,
        "id": agg.id,
        "name": agg.name,
        "updated_at": common.iso_us(agg.updated_at),
    }
    if full:
        body["hosts"] = [h.host for h in agg.hosts]
        body["metadata"] = meta
    if version(req) >= (2, 41):
        body["uuid"] = agg.uuid
    return body


def _get(req: Req, ident: str) -> Aggregate:
    try:
        agg_id = int(ident)
    except ValueError:
        raise errors.BadRequest(f"Invalid aggregate id {ident}") from None
    agg = req.db.get(Aggregate, agg_id)
    if agg is None:
        raise errors.NotFound(f"Aggregate {ident} could not be found.")
    return agg


def _check_zone_name(zone: str | None) -> None:
    if zone is not None and ":" in zone:
        raise errors.BadRequest("Availability zone name cannot contain ':'")


def _check_name_free(db: Session, name: str, exclude: int | None = None) -> None:
    q = select(Aggregate.id).where(Aggregate.name == name)
    if exclude is not None:
        q = q.where(Aggregate.id != exclude)
    if db.scalar(q) is not None:
        raise errors.Conflict(f"Aggregate {name} already exists.")


def _zone_conflicts(db: Session, agg: Aggregate, hosts: list[str], zone: str | None,
                    action: str) -> None:  # fmt: skip
    """400 when one of `hosts` is in another aggregate whose zone differs from `zone`."""
    if not hosts:
        return
    rows = db.execute(
        select(AggregateHost.host, AggregateMetadata.value)
        .join(AggregateMetadata, AggregateMetadata.aggregate_id == AggregateHost.aggregate_id)
        .where(
            AggregateHost.host.in_(hosts),
            AggregateHost.aggregate_id != agg.id,
            AggregateMetadata.key == zones.AZ_KEY,
        )
    ).all()
    other = sorted({z for _, z in rows if z != zone})
    if other:
        raise errors.BadRequest(
            f"Cannot {action} aggregate {agg.id}. Reason: One or more hosts already in "
            f"availability zone(s) {other}."
        )


def _check_zone_change(db: Session, agg: Aggregate, zone: str | None) -> None:
    """A new zone for an aggregate: a valid name, no host of it in another zone, and
    no server on its hosts (their zone would change under them) — 400 otherwise."""
    if zone == agg.meta.get(zones.AZ_KEY):
        return
    if zone is not None and not zone.strip():
        raise errors.BadRequest(
            f"Cannot update aggregate {agg.id}. Reason: Aggregate {agg.name} does not "
            "support empty named availability zone."
        )
    _check_zone_name(zone)
    hosts = [h.host for h in agg.hosts]
    _zone_conflicts(db, agg, hosts, zone, "update")
    if hosts:
        busy = db.scalar(
            select(Instance.id)
            .where(Instance.host.in_(hosts), Instance.deleted.is_(False))
            .limit(1)
        )
        if busy is not None:
            raise errors.BadRequest(
                f"Cannot update aggregate {agg.id}. Reason: One or more hosts contain "
                "instances in this zone."
            )


def _set_meta(db: Session, agg: Aggregate, changes: dict[str, str | None]) -> None:
    """Apply key → value (None removes); rows are replaced, never updated in place."""
    current = {m.key: m for m in agg.metadata_items}
    for key in changes:
        old = current.pop(key, None)
        if old is not None:
            agg.metadata_items.remove(old)
    db.flush()
    for key, value in changes.items():
        if value is not None:
            agg.metadata_items.append(AggregateMetadata(key=key, value=value))
    db.flush()
    db.refresh(agg)


def register(router: Router) -> None:
    @router.route("GET", "/v2.1/os-aggregates")
    def index(req: Req) -> dict:
        req.authorize("os_compute_api:os-aggregates:index")
        rows = req.db.scalars(select(Aggregate).order_by(Aggregate.id))
        return {"aggregates": [_view(req, a) for a in rows]}

    @router.route("POST", "/v2.1/os-aggregates")
    def create(req: Req) -> dict:
        req.authorize("os_compute_api:os-aggregates:create")
        validate(CREATE, req.body)
        params = req.body["aggregate"]
        name, zone = params["name"].strip(), params.get("availability_zone")
        if not name:
            raise errors.BadRequest("Aggregate name cannot be empty.")
        _check_zone_name(zone)
        db = req.db
        _check_name_free(db, name)
        agg = Aggregate(uuid=str(uuidlib.uuid4()), name=name)
        if zone:
            agg.metadata_items.append(AggregateMetadata(key=zones.AZ_KEY, value=zone))
        db.add(agg)
        db.flush()
        return {"aggregate": _view(req, agg, full=False)}

    @router.route("GET", "/v2.1/os-aggregates/{id}")
    def show(req: Req) -> dict:
        req.authorize("os_compute_api:os-aggregates:show")
        return {"aggregate": _view(req, _get(req, req.params["id"]))}

    @router.route("PUT", "/v2.1/os-aggregates/{id}")
    def update(req: Req) -> dict:
        req.authorize("os_compute_api:os-aggregates:update")
        validate(UPDATE, req.body)
        params = req.body["aggregate"]
        agg = _get(req, req.params["id"])
        db = req.db
        if "name" in params:
            _check_name_free(db, params["name"], exclude=agg.id)
            agg.name = params["name"]
        if "availability_zone" in params:
            _check_zone_change(db, agg, params["availability_zone"])
            _set_meta(db, agg, {zones.AZ_KEY: params["availability_zone"]})
        db.flush()
        return {"aggregate": _view(req, agg)}

    @router.route("DELETE", "/v2.1/os-aggregates/{id}")
    def delete(req: Req) -> Response:
        req.authorize("os_compute_api:os-aggregates:delete")
        agg = _get(req, req.params["id"])
        if agg.hosts:
            raise errors.BadRequest(
                f"Cannot remove aggregate {agg.id}. Reason: Host aggregate is not empty."
            )
        req.db.delete(agg)
        return Response(status_code=200)  # Nova: 200 with an empty body

    @router.route("POST", "/v2.1/os-aggregates/{id}/action")
    def action(req: Req) -> dict:
        validate(ACTION, req.body)
        ((name, params),) = req.body.items()
        req.authorize(f"os_compute_api:os-aggregates:{name}")
        agg = _get(req, req.params["id"])
        db = req.db
        if name == "set_metadata":
            changes = params["metadata"]
            if zones.AZ_KEY in changes:
                _check_zone_change(db, agg, changes[zones.AZ_KEY])
            _set_meta(db, agg, changes)
        elif name == "add_host":
            _add_host(db, agg, params["host"])
        else:
            _remove_host(db, agg, params["host"])
        return {"aggregate": _view(req, agg)}


def _add_host(db: Session, agg: Aggregate, host: str) -> None:
    known = db.scalar(
        select(ServiceRecord.id).where(
            ServiceRecord.host == host, ServiceRecord.binary == "stackbox-compute"
        )
    )
    if known is None:
        raise errors.NotFound(f"Compute host {host} could not be found.")
    if any(h.host == host for h in agg.hosts):
        raise errors.Conflict(f"Aggregate {agg.id} already has host {host}.")
    _zone_conflicts(db, agg, [host], agg.meta.get(zones.AZ_KEY), "add host to")
    agg.hosts.append(AggregateHost(host=host))
    db.flush()
    db.refresh(agg)


def _remove_host(db: Session, agg: Aggregate, host: str) -> None:
    row = next((h for h in agg.hosts if h.host == host), None)
    if row is None:
        raise errors.NotFound(f"Aggregate {agg.id} has no host {host}.")
    agg.hosts.remove(row)
    db.flush()
    db.refresh(agg)
