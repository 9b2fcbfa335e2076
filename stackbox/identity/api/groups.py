"""/v3/groups: create, list (`name`, `domain_id`), show, update, delete; membership:
`GET /v3/groups/{g}/users`, `PUT|HEAD|GET|DELETE /v3/groups/{g}/users/{u}`.

Roles granted to a group apply to its members, so every membership change (and a
group's deletion) bumps the identity revision: live tokens are re-evaluated.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.identity import store
from stackbox.identity.api.common import (
    DEFAULT_DOMAIN_ID,
    NAME_64,
    NULLABLE_STR,
    apply_filters,
    body_schema,
    collection,
    extras,
    flush_or_conflict,
    not_found,
    paged,
    paginate,
    self_link,
)
from stackbox.identity.models import Assignment, Domain, Group, GroupMembership, User

_PROPS = {"name": NAME_64, "domain_id": {"type": "string"}, "description": NULLABLE_STR}
CREATE_SCHEMA = body_schema("group", _PROPS, ("name",))
UPDATE_SCHEMA = body_schema("group", _PROPS)
_GROUP_TYPES = (store.GROUP_PROJECT, store.GROUP_DOMAIN, store.GROUP_SYSTEM)


def view(req: Req, g: Group) -> dict:
    out = dict(g.extra) if g.extra else {}
    out.update(
        id=g.id,
        name=g.name,
        domain_id=g.domain_id,
        description=g.description or "",
        links=self_link(req, "groups", g.id),
    )
    return out


def _conflict(name: str, domain_id: str) -> errors.Conflict:
    return errors.Conflict(
        "Conflict occurred attempting to store group - Duplicate entry "
        f"found with name {name} at domain ID {domain_id}."
    )


def _group_by_name(s: Session, name: str, domain_id: str) -> Group | None:
    return s.scalar(select(Group).where(Group.name == name, Group.domain_id == domain_id))


def _target(g: Group | None) -> dict:
    if g is None:
        return {}
    return {"target": {"group": {"id": g.id, "domain_id": g.domain_id}}}


def _load(req: Req, action: str, extra_target: dict | None = None) -> Group:
    gid = req.params["group_id"]
    g = req.db.get(Group, gid)
    target = _target(g)
    if extra_target and target:
        target["target"].update(extra_target)
    req.authorize(action, target)
    if g is None:
        raise not_found("group", gid)
    return g


def purge_groups(s: Session, ids: list[str]) -> None:
    """Delete groups with their memberships and assignments."""
    if not ids:
        return
    s.execute(delete(GroupMembership).where(GroupMembership.group_id.in_(ids)))
    s.execute(
        delete(Assignment).where(Assignment.actor_id.in_(ids), Assignment.type.in_(_GROUP_TYPES))
    )
    s.execute(delete(Group).where(Group.id.in_(ids)))
    store.bump_revision(s)


def _membership(req: Req, action: str) -> tuple[Group, User, GroupMembership | None]:
    uid = req.params["user_id"]
    user = req.db.get(User, uid)
    g = _load(req, action, {"user": {"id": uid, "domain_id": user.domain_id if user else None}})
    if user is None:
        raise not_found("user", uid)
    return g, user, req.db.get(GroupMembership, (uid, g.id))


def register(router: Router) -> None:
    @router.route("POST", "/v3/groups", status=201, schema=CREATE_SCHEMA)
    def create_group(req: Req) -> dict:
        data = req.body["group"]
        req.authorize("identity:create_group", {"target": {"group": data}})
        domain_id = data.get("domain_id") or req.context.domain_id or DEFAULT_DOMAIN_ID
        if req.db.get(Domain, domain_id) is None:
            raise not_found("domain", domain_id)
        name = data["name"].strip()
        if _group_by_name(req.db, name, domain_id) is not None:
            raise _conflict(name, domain_id)
        g = Group(
            name=name,
            domain_id=domain_id,
            description=data.get("description", ""),
            extra=extras(data, _PROPS),
        )
        req.db.add(g)
        flush_or_conflict(req, lambda: _conflict(name, domain_id))
        return {"group": view(req, g)}

    @router.route("GET", "/v3/groups")
    def list_groups(req: Req) -> dict:
        ctx = req.context
        domain_id = ctx.domain_id or req.query.get("domain_id")
        req.authorize("identity:list_groups", {"target": {"domain_id": domain_id}})
        q = apply_filters(
            req,
            select(Group).order_by(Group.name),
            {"name": Group.name, "domain_id": Group.domain_id},
        )
        if ctx.domain_id:
            q = q.where(Group.domain_id == ctx.domain_id)
        q, size = paginate(req, q, Group.id)
        return paged(req, "groups", [view(req, g) for g in req.db.scalars(q)], size)

    @router.route("GET", "/v3/groups/{group_id}")
    def get_group(req: Req) -> dict:
        return {"group": view(req, _load(req, "identity:get_group"))}

    @router.route("PATCH", "/v3/groups/{group_id}", schema=UPDATE_SCHEMA)
    def update_group(req: Req) -> dict:
        g = _load(req, "identity:update_group")
        data = req.body["group"]
        if "domain_id" in data and data["domain_id"] != g.domain_id:
            raise errors.BadRequest("Cannot change Domain ID")
        if "name" in data and data["name"].strip() != g.name:
            name = data["name"].strip()
            if _group_by_name(req.db, name, g.domain_id) is not None:
                raise _conflict(name, g.domain_id)
            g.name = name
        if "description" in data:
            g.description = data["description"]
        more = extras(data, _PROPS)
        if more:
            g.extra = {**(g.extra or {}), **more}
        flush_or_conflict(req, lambda: _conflict(g.name, g.domain_id))
        return {"group": view(req, g)}

    @router.route("DELETE", "/v3/groups/{group_id}")
    def delete_group(req: Req) -> None:
        purge_groups(req.db, [_load(req, "identity:delete_group").id])

    @router.route("GET", "/v3/groups/{group_id}/users")
    def list_group_users(req: Req) -> dict:
        from stackbox.identity.api import users  # users imports this module

        g = _load(req, "identity:list_users_in_group")
        q = apply_filters(
            req,
            select(User)
            .join(GroupMembership, GroupMembership.user_id == User.id)
            .where(GroupMembership.group_id == g.id)
            .order_by(User.name),
            {"name": User.name, "domain_id": User.domain_id, "enabled": User.enabled},
        )
        return collection(
            req, "users", (users.view(req, u) for u in req.db.scalars(q)), f"/groups/{g.id}/users"
        )

    @router.route("GET", "/v3/groups/{group_id}/users/{user_id}")
    def check_user_in_group(req: Req) -> None:
        g, user, member = _membership(req, "identity:check_user_in_group")
        if member is None:
            raise errors.NotFound(f"User '{user.id}' not found in group '{g.id}'.")

    @router.route("PUT", "/v3/groups/{group_id}/users/{user_id}")
    def add_user_to_group(req: Req) -> None:
        g, user, member = _membership(req, "identity:add_user_to_group")
        if member is None:
            req.db.add(GroupMembership(user_id=user.id, group_id=g.id))
            store.bump_revision(req.db)

    @router.route("DELETE", "/v3/groups/{group_id}/users/{user_id}")
    def remove_user_from_group(req: Req) -> None:
        g, user, member = _membership(req, "identity:remove_user_from_group")
        if member is None:
            raise errors.NotFound(f"User '{user.id}' not found in group '{g.id}'.")
        req.db.delete(member)
        store.bump_revision(req.db)
