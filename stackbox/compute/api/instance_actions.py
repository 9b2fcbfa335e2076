"""GET /v2.1/servers/{server_id}/os-instance-actions[/{request_id}]: the log of what
was done to a server (one row per request, newest first) and each action's events
(one per step a compute host ran).

By microversion: 2.21 also for deleted servers; 2.51 events for everyone (traceback
only where the events policy allows); 2.58 updated_at, limit/marker (a request id)/
changes-since paging; 2.62 event hostId (and host where the events policy allows);
2.66 changes-before; 2.84 event details (events:details policy)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.compute.api import common, lookup
from stackbox.compute.api.microversion import version
from stackbox.compute.models import Instance, InstanceAction, InstanceActionEvent


def _instance(req: Req) -> Instance:
    return lookup.get_instance(req, req.params["server_id"], with_deleted=version(req) >= (2, 21))


def action_view(req: Req, row: InstanceAction) -> dict[str, Any]:
    out: dict[str, Any] = {
        "action": row.action,
        "instance_uuid": row.instance_uuid,
        "request_id": row.request_id,
        "user_id": row.user_id,
        "project_id": row.project_id,
        "start_time": common.iso_us(row.start_time),
        "message": row.message,
    }
    if version(req) >= (2, 58):
        out["updated_at"] = common.iso_us(row.updated_at)
    return out


def event_view(
    req: Req, project_id: str, ev: InstanceActionEvent, full: bool, details: bool
) -> dict[str, Any]:
    """One event; `full` (events policy): traceback, and host from 2.62; `details`
    (events:details policy, 2.84+): the event's details."""
    out: dict[str, Any] = {
        "event": ev.event,
        "start_time": common.iso_us(ev.start_time),
        "finish_time": common.iso_us(ev.finish_time),
        "result": ev.result,
    }
    if full:
        out["traceback"] = ev.traceback
    if version(req) >= (2, 62):
        host = ev.host or ""
        if full:
            out["host"] = host
        out["hostId"] = hashlib.sha224((project_id + host).encode()).hexdigest() if host else ""
    if details:
        out["details"] = ev.details
    return out


def _time(req: Req, name: str) -> dt.datetime | None:
    raw = req.query.get(name)
    return None if raw is None else common.query_time(name, raw)


def list_actions(req: Req) -> dict[str, Any]:
    inst = _instance(req)
    req.authorize("os_compute_api:os-instance-actions:list", lookup.target(inst))
    q = select(InstanceAction).where(InstanceAction.instance_uuid == inst.uuid)
    order = (InstanceAction.start_time.desc(), InstanceAction.id.desc())
    mv = version(req)
    limit: int | None = None
    if mv >= (2, 58):
        limit, marker = common.paging(req)
        since = _time(req, "changes-since")
        before = _time(req, "changes-before") if mv >= (2, 66) else None
        if since and before and since > before:
            raise errors.BadRequest(
                "The value of changes-since must be less than or equal to changes-before."
            )
        if since is not None:
            q = q.where(InstanceAction.updated_at >= since)
        if before is not None:
            q = q.where(InstanceAction.updated_at <= before)
        if marker is not None:
            mrow = req.db.scalar(
                select(InstanceAction).where(
                    InstanceAction.instance_uuid == inst.uuid,
                    InstanceAction.request_id == marker,
                )
            )
            if mrow is None:
                raise errors.BadRequest(f"Marker {marker} could not be found.")
            # Rows after the marker in (start_time desc, id desc) order.
            q = q.where(
                (InstanceAction.start_time < mrow.start_time)
                | ((InstanceAction.start_time == mrow.start_time) & (InstanceAction.id < mrow.id))
            )
    rows = list(req.db.scalars(q.order_by(*order).limit(limit) if limit else q.order_by(*order)))
    if limit == 0:
        rows = []
    out: dict[str, Any] = {"instanceActions": [action_view(req, r) for r in rows]}
    if limit and len(rows) == limit:
        href = (
            f"{req.base_url}/v2.1/servers/{inst.uuid}/os-instance-actions"
            f"?limit={limit}&marker={rows[-1].request_id}"
        )
        out["links"] = [{"rel": "next", "href": href}]
    return out


def show_action(req: Req) -> dict[str, Any]:
    inst = _instance(req)
    target = lookup.target(inst)
    req.authorize("os_compute_api:os-instance-actions:show", target)
    rid = req.params["request_id"]
    row = req.db.scalar(
        select(InstanceAction).where(
            InstanceAction.instance_uuid == inst.uuid, InstanceAction.request_id == rid
        )
    )
    if row is None:
        raise errors.NotFound(f"Action {rid} not found")
    out = action_view(req, row)
    full = req.allowed("os_compute_api:os-instance-actions:events", target)
    if full or version(req) >= (2, 51):
        details = version(req) >= (2, 84) and req.allowed(
            "os_compute_api:os-instance-actions:events:details", target
        )
        project_id = row.project_id or inst.project_id
        out["events"] = [event_view(req, project_id, ev, full, details) for ev in row.events]
    return {"instanceAction": out}


def register(router: Router) -> None:
    router.route("GET", "/v2.1/servers/{server_id}/os-instance-actions")(list_actions)
    router.route("GET", "/v2.1/servers/{server_id}/os-instance-actions/{request_id}")(show_action)
