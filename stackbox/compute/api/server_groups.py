"""Server groups: /v2.1/os-server-groups — create, list, show, delete.

Shapes by microversion (Nova's): before 2.64 a group has `policies` (one item) and
`metadata`; 2.13 adds `project_id` and `user_id`; 2.15 allows soft-affinity and
soft-anti-affinity; 2.64 replaces `policies` with `policy` plus `rules`
(`max_server_per_host`, anti-affinity only) and drops `metadata`. Members join at
server create (scheduler hint "group", see `join_group` here) and leave when their
server is deleted (`leave_group`). A member's request spec holds its group
(stackbox/compute/requestspec.py: `group_info`), so every later scheduling of it keeps
the policy. Scheduling rules: stackbox/scheduler/filters_groups.py and weighers_groups.py.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stackbox.api import errors
from stackbox.api.framework import Req, Router, validate
from stackbox.compute import quotas
from stackbox.compute.api.microversion import pick, version
from stackbox.compute.opmodels import ServerGroup, ServerGroupMember

HARD = ["affinity", "anti-affinity"]
ALL = [*HARD, "soft-affinity", "soft-anti-affinity"]
_NAME = {"type": "string", "minLength": 1, "maxLength": 255,
         "pattern": r"^(?! )[\s\S]*(?<! )$"}  # fmt: skip


def build_create_schema(v: tuple[int, int]) -> dict:
    """The create schema of microversion `v`; at import only (CREATE_SCHEMAS)."""
    if v >= (2, 64):
        group: dict[str, Any] = {
            "type": "object",
            "properties": {
                "name": _NAME,
                "policy": {"type": "string", "enum": ALL},
                "rules": {
                    "type": "object",
                    "properties": {"max_server_per_host": {"type": "integer", "minimum": 1}},
                    "additionalProperties": False,
                },
            },
            "required": ["name", "policy"],
            "additionalProperties": False,
        }
    else:
        enum = ALL if v >= (2, 15) else HARD
        group = {
            "type": "object",
            "properties": {
                "name": _NAME,
                "policies": {
                    "type": "array",
                    "items": {"type": "string", "enum": enum},
                    "minItems": 1,
                    "maxItems": 1,
                    "uniqueItems": True,
                },
            },
            "required": ["name", "policies"],
            "additionalProperties": False,
        }
    return {
        "type": "object",
        "properties": {"server_group": group},
        "required": ["server_group"],
        "additionalProperties": False,
    }


# Where the create schema changes; one constant per range.
CREATE_SINCE: tuple[tuple[int, int], ...] = ((2, 1), (2, 15), (2, 64))
CREATE_SCHEMAS = tuple((v, build_create_schema(v)) for v in CREATE_SINCE)


def view(req: Req, g: ServerGroup) -> dict[str, Any]:
    v = version(req)
    body: dict[str, Any] = {"id": g.uuid, "name": g.name}
    if v >= (2, 64):
        body["policy"] = g.policy
        body["rules"] = dict(g.rules or {})
    else:
        body["policies"] = [g.policy]
    body["members"] = [m.instance_uuid for m in g.members]
    if v < (2, 64):
        body["metadata"] = {}
    if v >= (2, 13):
        body["project_id"] = g.project_id
        body["user_id"] = g.user_id
    return body


def get_group(db: Session, group_uuid: str) -> ServerGroup:
    g = db.scalar(select(ServerGroup).where(ServerGroup.uuid == group_uuid))
    if g is None:
        raise errors.NotFound(f"Instance group {group_uuid} could not be found.")
    return g


def quota_check(
    db: Session,
    project_id: str | None,
    user_id: str | None,
    deltas: dict[str, int],
    *,
    cfg: Any | None = None,
    group_uuid: str | None = None,
) -> None:
    """Nova's server_groups / server_group_members quotas (stackbox/compute/quotas.py:
    403 "Quota exceeded ..." when over)."""
    quotas.check(db, str(project_id), user_id, deltas, cfg=cfg, group_uuid=group_uuid)


def join_group(
    db: Session,
    group: ServerGroup,
    instance_uuids: list[str],
    project_id: str | None,
    user_id: str | None,
    cfg: Any | None = None,
) -> None:
    """Make the new servers members (server create, scheduler hint "group")."""
    deltas = {"server_group_members": len(instance_uuids)}
    quota_check(db, project_id, user_id, deltas, cfg=cfg, group_uuid=group.uuid)
    for u in instance_uuids:
        db.add(ServerGroupMember(group_id=group.id, instance_uuid=u))
    db.flush()


def leave_group(db: Session, instance_uuid: str) -> None:
    """Drop a deleted server from its group (if any)."""
    row = db.scalar(
        select(ServerGroupMember).where(ServerGroupMember.instance_uuid == instance_uuid)
    )
    if row is not None:
        db.delete(row)
        db.flush()


def _int_query(req: Req, name: str, default: int | None) -> int | None:
    raw = req.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.BadRequest(
            f"Invalid input for query parameters {name}. Value: {raw}. '{raw}' is not a 'integer'"
        ) from None
    if value < 0:
        raise errors.BadRequest(f"Invalid input for query parameters {name}. Value: {raw}.")
    return value


def register(router: Router) -> None:
    @router.route("GET", "/v2.1/os-server-groups")
    def index(req: Req) -> dict:
        ctx = req.context
        req.authorize("os_compute_api:os-server-groups:index", {"project_id": ctx.project_id})
        q = select(ServerGroup).order_by(ServerGroup.id)
        all_projects = str(req.query.get("all_projects", "")).lower() in ("1", "true", "yes")
        if all_projects:
            req.authorize("os_compute_api:os-server-groups:index:all_projects",
                          {"project_id": ctx.project_id})  # fmt: skip
        else:
            q = q.where(ServerGroup.project_id == ctx.project_id)
        offset = _int_query(req, "offset", 0) or 0
        limit = _int_query(req, "limit", None)
        q = q.offset(offset)
        if limit is not None:
            q = q.limit(limit)
        return {"server_groups": [view(req, g) for g in req.db.scalars(q)]}

    @router.route("GET", "/v2.1/os-server-groups/{id}")
    def show(req: Req) -> dict:
        g = get_group(req.db, req.params["id"])
        req.authorize("os_compute_api:os-server-groups:show",
                      {"project_id": g.project_id, "user_id": g.user_id})  # fmt: skip
        return {"server_group": view(req, g)}

    @router.route("POST", "/v2.1/os-server-groups")
    def create(req: Req) -> dict:
        ctx = req.context
        req.authorize("os_compute_api:os-server-groups:create",
                      {"project_id": ctx.project_id, "user_id": ctx.user_id})  # fmt: skip
        v = version(req)
        validate(pick(CREATE_SCHEMAS, v), req.body)
        params = req.body["server_group"]
        policy = params["policy"] if v >= (2, 64) else params["policies"][0]
        rules = params.get("rules") or {}
        if rules and policy != "anti-affinity":
            raise errors.BadRequest("Only anti-affinity policy supports rules.")
        db = req.db
        quota_check(db, ctx.project_id, ctx.user_id, {"server_groups": 1}, cfg=req.state.cfg)
        g = ServerGroup(uuid=str(uuidlib.uuid4()), name=params["name"], policy=policy,
                        rules=rules, project_id=ctx.project_id, user_id=ctx.user_id)  # fmt: skip
        db.add(g)
        db.flush()
        db.refresh(g)
        return {"server_group": view(req, g)}

    @router.route("DELETE", "/v2.1/os-server-groups/{id}")
    def delete(req: Req) -> tuple[None, int]:
        g = get_group(req.db, req.params["id"])
        req.authorize("os_compute_api:os-server-groups:delete",
                      {"project_id": g.project_id, "user_id": g.user_id})  # fmt: skip
        req.db.delete(g)
        return None, 204


def count_groups(db: Session, project_id: str) -> int:
    """Server groups of a project (for quota usage)."""
    return int(db.scalar(select(func.count(ServerGroup.id)).where(
        ServerGroup.project_id == project_id)) or 0)  # fmt: skip


def group_for_hint(req: Req, hints: dict[str, Any]) -> ServerGroup | None:
    """The group a server create names in its scheduler hint "group": it must exist
    and belong to the caller's project (400 otherwise)."""
    raw = hints.get("group")
    if raw is None:
        return None
    if isinstance(raw, list):  # some clients send every hint as a list
        raw = raw[0] if len(raw) == 1 else raw
    if not isinstance(raw, str):
        raise errors.BadRequest(f"Invalid input for field/attribute group. Value: {raw}.")
    g = req.db.scalar(select(ServerGroup).where(ServerGroup.uuid == raw))
    if g is None or (g.project_id != req.context.project_id
                     and not req.context.is_admin):  # fmt: skip
        raise errors.BadRequest(f"Instance group {raw} could not be found.")
    return g


def groups_of(db: Session, instance_uuid: str) -> list[str]:
    """The uuids of the groups a server is in (0 or 1), for the 2.71 server view."""
    member = ServerGroupMember
    q = select(ServerGroup.uuid).join(member, member.group_id == ServerGroup.id)
    return list(db.scalars(q.where(member.instance_uuid == instance_uuid)))
