"""Usage reports: GET /v2.1/os-simple-tenant-usage (admin: every project) and
/os-simple-tenant-usage/{project_id} (the project's reader, or admin), as
`openstack usage list` / `usage show` read them.

`?start=&end=` bound the window (default: now; start must come before end);
`?detailed=1` (or `True`, as openstacksdk sends it) adds `server_usages` to the list
(show always has them). Every instance
launched before the end and not terminated before the start counts, deleted ones
included. 2.40 pages the instances (`limit`, `marker` = an instance uuid) with a
`tenant_usages_links` / `tenant_usage_links` next link. The arithmetic is in
`stackbox/compute/usage.py`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.compute import usage
from stackbox.compute.api import common
from stackbox.compute.api.microversion import version
from stackbox.compute.models import Instance
from stackbox.db.base import utcnow

_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f")


def parse_time(raw: str | None, now: dt.datetime) -> dt.datetime:
    if not raw:
        return now
    for fmt in _FORMATS:
        try:
            return dt.datetime.strptime(raw, fmt)
        except ValueError:
            continue
    try:  # what SDKs send: ISO 8601 with an offset or 'Z'
        value = dt.datetime.fromisoformat(raw.replace(" ", "+").replace("Z", "+00:00"))
    except ValueError:
        raise errors.BadRequest("Datetime is in invalid format") from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _window(req: Req) -> tuple[dt.datetime, dt.datetime, bool, dt.datetime]:
    now = utcnow()
    start = parse_time(req.query.get("start"), now)
    stop = parse_time(req.query.get("end"), now)
    if not start < stop and (req.query.get("start") or req.query.get("end")):
        raise errors.BadRequest(
            "Invalid start time. The start time cannot occur after the end time."
        )
    # Nova tests for "1"; openstacksdk sends a boolean as "True": both mean detailed.
    return start, stop, req.query.get("detailed", "0").lower() in ("1", "true"), now


def to_run(inst: Instance) -> usage.InstanceRun:
    fl = inst.flavor or {}
    return usage.InstanceRun(
        uuid=inst.uuid,
        name=inst.display_name,
        project_id=inst.project_id,
        flavor_name=str(fl.get("name", "")),
        memory_mb=int(fl.get("memory_mb", 0)),
        vcpus=int(fl.get("vcpus", 0)),
        local_gb=int(fl.get("root_gb", 0)) + int(fl.get("ephemeral_gb", 0)),
        vm_state=inst.vm_state,
        launched_at=inst.launched_at,
        terminated_at=inst.terminated_at,
    )


def _instances(
    req: Req, start: dt.datetime, stop: dt.datetime, project_id: str | None
) -> tuple[list[Instance], int]:
    """Instances active in the window (deleted too), oldest first; with 2.40 paging."""
    q = (
        select(Instance)
        .where(Instance.launched_at.is_not(None), Instance.launched_at < stop)
        .where(or_(Instance.terminated_at.is_(None), Instance.terminated_at > start))
        .order_by(Instance.created_at, Instance.id)
    )
    if project_id is not None:
        q = q.where(Instance.project_id == project_id)
    limit = 0
    if version(req) >= (2, 40):
        limit, marker = common.paging(req)
        if marker is not None:
            mark = req.db.scalar(select(Instance).where(Instance.uuid == marker))
            if mark is None:
                raise errors.BadRequest(f"Marker {marker} could not be found.")
            q = q.where(
                or_(
                    Instance.created_at > mark.created_at,
                    (Instance.created_at == mark.created_at) & (Instance.id > mark.id),
                )
            )
        q = q.limit(limit)
    return list(req.db.scalars(q)), limit


def _check_query(req: Req) -> None:
    if version(req) >= (2, 75):
        allowed = {"start", "end", "detailed"}
        if version(req) >= (2, 40):
            allowed |= {"limit", "marker"}
        common.reject_unknown_query(req, allowed)


def register(router: Router) -> None:
    @router.route("GET", "/v2.1/os-simple-tenant-usage")
    def index(req: Req) -> dict:
        req.authorize("os_compute_api:os-simple-tenant-usage:list")
        _check_query(req)
        start, stop, detailed, now = _window(req)
        rows, limit = _instances(req, start, stop, None)
        runs = [to_run(i) for i in rows]
        body: dict[str, Any] = {
            "tenant_usages": [
                usage.render(pu, detailed) for pu in usage.summarize(runs, start, stop, now)
            ]
        }
        if rows and limit and len(rows) == limit:
            body["tenant_usages_links"] = common.next_link_keeping(
                req, "os-simple-tenant-usage", rows[-1].uuid
            )
        return body

    @router.route("GET", "/v2.1/os-simple-tenant-usage/{project_id}")
    def show(req: Req) -> dict:
        project_id = req.params["project_id"]
        req.authorize("os_compute_api:os-simple-tenant-usage:show", {"project_id": project_id})
        _check_query(req)
        start, stop, _detailed, now = _window(req)
        rows, limit = _instances(req, start, stop, project_id)
        found = usage.summarize([to_run(i) for i in rows], start, stop, now)
        body: dict[str, Any] = {"tenant_usage": usage.render(found[0], True) if found else {}}
        if rows and limit and len(rows) == limit:
            body["tenant_usage_links"] = common.next_link_keeping(
                req, f"os-simple-tenant-usage/{project_id}", rows[-1].uuid
            )
        return body
