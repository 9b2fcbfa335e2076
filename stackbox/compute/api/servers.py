"""Servers: POST /v2.1/servers (checks and rows in `server_create.py`, then a cast to the
conductor), GET /v2.1/servers and /servers/detail (filters, sorting, paging, as Nova),
GET /v2.1/servers/{id} and PUT /v2.1/servers/{id}. Views are in `server_views.py`.
Deleting and actions belong to `server_actions.py`."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, or_, select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.compute import states
from stackbox.compute.api import common, lookup, server_create, server_views
from stackbox.compute.api.microversion import Version, pick, version
from stackbox.compute.models import Instance
from stackbox.compute.rpcapi import ConductorAPI
from stackbox.db.base import utcnow

SORT_KEYS: dict[str, Any] = {
    "access_ip_v4": Instance.access_ip_v4,
    "access_ip_v6": Instance.access_ip_v6,
    "availability_zone": Instance.availability_zone,
    "config_drive": Instance.config_drive,
    "created_at": Instance.created_at,
    "display_description": Instance.display_description,
    "display_name": Instance.display_name,
    "host": Instance.host,
    "hostname": Instance.hostname,
    "image_ref": Instance.image_ref,
    "kernel_id": Instance.kernel_id,
    "key_name": Instance.key_name,
    "launch_index": Instance.launch_index,
    "launched_at": Instance.launched_at,
    "locked": Instance.locked,
    "node": Instance.node,
    "power_state": Instance.power_state,
    "progress": Instance.progress,
    "project_id": Instance.project_id,
    "ramdisk_id": Instance.ramdisk_id,
    "reservation_id": Instance.reservation_id,
    "root_device_name": Instance.root_device_name,
    "task_state": Instance.task_state,
    "terminated_at": Instance.terminated_at,
    "updated_at": Instance.updated_at,
    "user_id": Instance.user_id,
    "uuid": Instance.uuid,
    "vm_state": Instance.vm_state,
}
# Filters every user may pass (by microversion); admins may pass any column filter.
_USER_FILTERS = {"reservation_id", "name", "status", "image", "flavor", "ip", "ip6"}
_USER_FILTERS_2_26 = {"tags", "tags-any", "not-tags", "not-tags-any"}
_USER_FILTERS_2_83 = {
    "availability_zone",
    "config_drive",
    "key_name",
    "created_at",
    "launched_at",
    "terminated_at",
    "power_state",
    "task_state",
    "vm_state",
    "progress",
    "user_id",
}
_EQUALITY = {
    "reservation_id": Instance.reservation_id,
    "key_name": Instance.key_name,
    "availability_zone": Instance.availability_zone,
    "user_id": Instance.user_id,
    "vm_state": Instance.vm_state,
    "task_state": Instance.task_state,
    "host": Instance.host,
    "node": Instance.node,
    "hostname": Instance.hostname,
    "uuid": Instance.uuid,
}
_TRUE = {"1", "t", "true", "on", "y", "yes"}
_FALSE = {"0", "f", "false", "off", "n", "no"}


def _bool(name: str, raw: str) -> bool:
    v = raw.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise errors.BadRequest(f"Invalid input for query parameters {name}. Value: {raw}.")


def _filters(req: Req) -> dict[str, str]:
    """The query's filters this caller may use (Nova strips the others for users)."""
    mv = version(req)
    params = {k: req.query.get(k) for k in req.query}
    if req.allowed("os_compute_api:servers:allow_all_filters"):
        return params
    allowed = set(_USER_FILTERS) | {"all_tenants", "changes-since"}
    if mv >= (2, 26):
        allowed |= _USER_FILTERS_2_26
    if mv >= (2, 66):
        allowed.add("changes-before")
    if mv >= (2, 73):
        allowed.add("locked")
    if mv >= (2, 83):
        allowed |= _USER_FILTERS_2_83
    return {k: v for k, v in params.items() if k in allowed}


def _all_tenants(req: Req, f: dict[str, str], detail: bool) -> bool:
    if "all_tenants" not in f:
        return False
    raw = f["all_tenants"]
    on = True if raw == "" else _bool("all_tenants", raw)
    if on:
        kind = "detail" if detail else "index"
        req.authorize(f"os_compute_api:servers:{kind}:get_all_tenants", {})
    return on


def _query(req: Req, f: dict[str, str], detail: bool) -> Select[Any]:
    ctx = req.context
    q = select(Instance)
    if _all_tenants(req, f, detail):
        project = f.get("project_id") or f.get("tenant_id")
        if project:
            q = q.where(Instance.project_id == project)
    else:
        q = q.where(Instance.project_id == ctx.project_id)
    since = before = None
    if "changes-since" in f:
        since = common.query_time("changes-since", f["changes-since"])
    if "changes-before" in f:
        before = common.query_time("changes-before", f["changes-before"])
    if since and before and since > before:
        raise errors.BadRequest(
            "The value of changes-since must be less than or equal to changes-before."
        )
    if since:
        q = q.where(Instance.updated_at >= since)
    if before:
        q = q.where(Instance.updated_at <= before)
    # As Nova: soft-deleted servers (waiting to be reclaimed) list with the deleted ones.
    gone = or_(Instance.deleted.is_(True), Instance.vm_state == states.SOFT_DELETED)
    if "deleted" in f:
        q = q.where(gone if _bool("deleted", f["deleted"]) else ~gone)
    elif since is None and before is None:
        q = q.where(~gone)
    for key, col in _EQUALITY.items():
        if key in f:
            q = q.where(col == f[key])
    if "image" in f:
        q = q.where(Instance.image_ref == server_create.last_segment(f["image"]))
    if "locked" in f:
        q = q.where(Instance.locked.is_(_bool("locked", f["locked"])))
    if "power_state" in f:
        try:
            q = q.where(Instance.power_state == int(f["power_state"]))
        except ValueError:
            raise errors.BadRequest(
                f"Invalid input for query parameters power_state. Value: {f['power_state']}."
            ) from None
    return q.order_by(*_sort(req))


def _sort(req: Req) -> list[Any]:
    keys = req.query.getlist("sort_key") or ["created_at"]
    dirs = req.query.getlist("sort_dir")
    out = []
    for i, key in enumerate(keys):
        if key in ("host", "node") and not req.allowed("context_is_admin"):
            raise errors.Forbidden(f"Only administrators can sort servers by {key}")
        col = SORT_KEYS.get(key)
        if col is None:
            raise errors.BadRequest(
                f"Invalid input for query parameters sort_key. Value: {key}. "
                f"'{key}' is not one of {sorted(SORT_KEYS)}"
            )
        d = dirs[i] if i < len(dirs) else (dirs[0] if dirs else "desc")
        if d not in ("asc", "desc"):
            raise errors.BadRequest(
                f"Invalid input for query parameters sort_dir. Value: {d}. "
                f"'{d}' is not one of ['asc', 'desc']"
            )
        out.append(col.asc() if d == "asc" else col.desc())
    out.append(Instance.id.desc())
    return out


def _post_filter(req: Req, f: dict[str, str], rows: list[Instance]) -> list[Instance]:
    """Filters the database cannot answer portably: regex names, statuses, flavors, tags."""
    if "status" in f:
        # a status names vm_states (ACTIVE: any task) or a task of one (REBOOT, RESIZE...)
        status = f["status"].upper()
        vms = set(states.vm_states_for_status(status))
        rows = [
            r
            for r in rows
            if r.vm_state in vms or states.status(r.vm_state, r.task_state) == status
        ]
    if "name" in f:
        try:
            pattern = re.compile(f["name"])
        except re.error:
            raise errors.BadRequest(f"Invalid regular expression in name: {f['name']}") from None
        rows = [r for r in rows if pattern.search(r.display_name)]
    if "flavor" in f:
        fid = server_create.last_segment(f["flavor"])
        rows = [r for r in rows if str((r.flavor or {}).get("flavorid")) == fid]
    if version(req) >= (2, 26):

        def tagset(name: str) -> set[str]:
            return {t for t in f[name].split(",") if t} if name in f else set()

        every, any_, not_every, not_any = (
            tagset(n) for n in ("tags", "tags-any", "not-tags", "not-tags-any")
        )
        out = []
        for r in rows:
            have = {t.tag for t in r.tags}
            if every and not every <= have:
                continue
            if any_ and not any_ & have:
                continue
            if not_every and not_every <= have:
                continue
            if not_any and not_any & have:
                continue
            out.append(r)
        rows = out
    return rows


def _list(req: Req, detail: bool) -> dict[str, Any]:
    req.authorize(
        f"os_compute_api:servers:{'detail' if detail else 'index'}",
        {"project_id": req.context.project_id},
    )
    f = _filters(req)
    limit, marker = common.paging(req)
    rows = _post_filter(req, f, list(req.db.scalars(_query(req, f, detail))))
    if marker is not None:
        ids = [r.uuid for r in rows]
        if marker not in ids:
            raise errors.BadRequest(f"marker [{marker}] not found")
        rows = rows[ids.index(marker) + 1 :]
    page = rows[:limit]
    view = server_views.detail_view if detail else server_views.list_view
    out: dict[str, Any] = {"servers": [view(req, r) for r in page]}
    if page and len(rows) > limit:
        params = {k: v for k, v in req.query.items() if k != "marker"}
        params["marker"] = page[-1].uuid
        path = "servers/detail" if detail else "servers"
        out["servers_links"] = [
            {"rel": "next", "href": f"{req.base_url}/v2.1/{path}?{urlencode(params)}"}
        ]
    return out


def build_update_schema(mv: Version) -> dict[str, Any]:
    """The PUT /servers/{id} schema of microversion `mv`; at import only."""
    props: dict[str, Any] = {
        "name": server_create.NAME,
        "accessIPv4": server_create.IP4,
        "accessIPv6": server_create.IP6,
        "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
    }
    if mv >= (2, 19):
        props["description"] = server_create.DESCRIPTION
    if mv >= (2, 90):
        props["hostname"] = server_create.HOSTNAME
    return {
        "type": "object",
        "properties": {
            "server": {"type": "object", "properties": props, "additionalProperties": False}
        },
        "required": ["server"],
        "additionalProperties": False,
    }


# Where the update schema changes; one constant per range.
UPDATE_SINCE: tuple[Version, ...] = ((2, 1), (2, 19), (2, 90))
UPDATE_SCHEMAS = tuple((since, build_update_schema(since)) for since in UPDATE_SINCE)


def register(router: Router) -> None:
    @router.route("POST", "/v2.1/servers", status=202)
    def create(req: Req) -> dict:
        req.authorize("os_compute_api:servers:create", {"project_id": req.context.project_id})
        server_create.normalize_access_ips(req.body)
        plan = server_create.plan(req, req.body)
        uuids = [i.uuid for i in plan.instances]
        lookup.commit_and_send(
            req,
            ConductorAPI(req.state.bus).build_instances,
            uuids,
            plan.request_spec,
            lookup.request_id(),
            plan.admin_password,
            plan.injected_files,
        )
        server = req.body["server"]
        if server_create.as_bool(server.get("return_reservation_id")):
            return {"reservation_id": plan.reservation_id}
        return {
            "server": {
                "id": uuids[0],
                "links": common.links(req, "servers", uuids[0]),
                "OS-DCF:diskConfig": plan.disk_config,
                "security_groups": [{"name": "default"}],
                "adminPass": plan.admin_password,
            }
        }

    @router.route("GET", "/v2.1/servers")
    def index(req: Req) -> dict:
        return _list(req, detail=False)

    @router.route("GET", "/v2.1/servers/detail")
    def detail(req: Req) -> dict:
        return _list(req, detail=True)

    @router.route("GET", "/v2.1/servers/{server_id}")
    def show(req: Req) -> dict:
        inst = lookup.get_instance(req, req.params["server_id"])
        req.authorize("os_compute_api:servers:show", lookup.target(inst))
        return {"server": server_views.show_view(req, inst)}

    @router.route("PUT", "/v2.1/servers/{server_id}")
    def update(req: Req) -> dict:
        server_create.validate(pick(UPDATE_SCHEMAS, version(req)), req.body)
        inst = lookup.get_instance(req, req.params["server_id"])
        req.authorize("os_compute_api:servers:update", lookup.target(inst))
        changes: dict[str, Any] = req.body["server"]
        if "name" in changes:
            inst.display_name = changes["name"]
        if "description" in changes:
            inst.display_description = changes["description"]
        if "accessIPv4" in changes:
            inst.access_ip_v4 = server_create.normalized_ip(changes["accessIPv4"], 4)
        if "accessIPv6" in changes:
            inst.access_ip_v6 = server_create.normalized_ip(changes["accessIPv6"], 6)
        if "hostname" in changes:
            inst.hostname = changes["hostname"]
        if "OS-DCF:diskConfig" in changes:
            inst.disk_config = changes["OS-DCF:diskConfig"]
        inst.updated_at = utcnow()
        req.db.flush()
        return {"server": server_views.update_view(req, inst)}
