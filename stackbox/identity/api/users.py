"""/v3/users: create, list (`name`, `domain_id`, `enabled`), show, update, delete;
`GET /v3/users/{id}/groups`; self-service `POST /v3/users/{id}/password`.

The password is never returned; `password_expires_at` is always null (no expiry
policy). Changing a password or disabling a user revokes the user's tokens; deleting a
user revokes them and deletes the user's memberships, assignments, application
credentials and access rules. Users can read
themselves; only admins (and system/domain readers) list users.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.identity import appcreds, owned, passwords, store
from stackbox.identity.api import groups
from stackbox.identity.api.common import (
    BOOL,
    DEFAULT_DOMAIN_ID,
    NAME_255,
    NULLABLE_ID,
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

_PROPS = {
    "name": NAME_255,
    "domain_id": {"type": "string"},
    "enabled": BOOL,
    "password": NULLABLE_STR,
    "default_project_id": NULLABLE_ID,
    "description": NULLABLE_STR,
    "email": NULLABLE_STR,
    "options": {"type": "object"},
    "federated": {"type": "array"},
}
CREATE_SCHEMA = body_schema("user", _PROPS, ("name",))
UPDATE_SCHEMA = body_schema("user", _PROPS)
PASSWORD_SCHEMA = body_schema(
    "user",
    {"original_password": {"type": "string"}, "password": {"type": "string"}},
    ("original_password", "password"),
)
_USER_TYPES = (store.USER_PROJECT, store.USER_DOMAIN, store.USER_SYSTEM)


def view(req: Req, u: User) -> dict:
    out = dict(u.extra) if u.extra else {}
    out.update(
        id=u.id,
        name=u.name,
        domain_id=u.domain_id,
        enabled=u.enabled,
        password_expires_at=None,
        options={},
        links=self_link(req, "users", u.id),
    )
    if u.default_project_id:
        out["default_project_id"] = u.default_project_id
    if u.description is not None:
        out["description"] = u.description
    if u.email is not None:
        out["email"] = u.email
    return out


def _conflict(name: str, domain_id: str) -> errors.Conflict:
    return errors.Conflict(
        "Conflict occurred attempting to store user - Duplicate entry "
        f"found with name {name} at domain ID {domain_id}."
    )


def _target(u: User | None, uid: str) -> dict:
    return {"target": {"user": {"id": uid, "domain_id": u.domain_id if u else None}}}


def _load(req: Req, action: str) -> User:
    uid = req.params["user_id"]
    u = req.db.get(User, uid)
    req.authorize(action, _target(u, uid) if u is not None else {})
    if u is None:
        raise not_found("user", uid)
    return u


def set_password(s: Session, u: User, password: str | None) -> None:
    u.password_hash = passwords.hash_password(password) if password is not None else None
    u.password_changed_at = store.utcnow()
    store.revoke(s, user_id=u.id)


def purge_users(s: Session, ids: list[str]) -> None:
    """Delete users with their memberships and assignments; revoke their tokens."""
    if not ids:
        return
    s.execute(delete(GroupMembership).where(GroupMembership.user_id.in_(ids)))
    s.execute(
        delete(Assignment).where(Assignment.actor_id.in_(ids), Assignment.type.in_(_USER_TYPES))
    )
    appcreds.purge_for_users(s, ids)
    for uid in ids:
        store.revoke(s, user_id=uid)
    owned.purge_for_users(s, ids)
    s.execute(delete(User).where(User.id.in_(ids)))
    store.bump_revision(s)


def _create(req: Req, data: dict) -> User:
    domain_id = data.get("domain_id") or req.context.domain_id or DEFAULT_DOMAIN_ID
    if req.db.get(Domain, domain_id) is None:
        raise not_found("domain", domain_id)
    name = data["name"].strip()
    if store.user_by_name(req.db, name, domain_id) is not None:
        raise _conflict(name, domain_id)
    u = User(
        name=name,
        domain_id=domain_id,
        enabled=data.get("enabled", True),
        default_project_id=data.get("default_project_id"),
        description=data.get("description"),
        email=data.get("email"),
        extra=extras(data, _PROPS),
    )
    if data.get("password") is not None:
        u.password_hash = passwords.hash_password(data["password"])
        u.password_changed_at = store.utcnow()
    req.db.add(u)
    flush_or_conflict(req, lambda: _conflict(name, domain_id))
    return u


def _update(req: Req, u: User, data: dict) -> None:
    if "domain_id" in data and data["domain_id"] != u.domain_id:
        raise errors.BadRequest("Cannot change Domain ID")
    if "id" in data and data["id"] != u.id:
        raise errors.BadRequest("Cannot change ID")
    if "name" in data and data["name"].strip() != u.name:
        name = data["name"].strip()
        if store.user_by_name(req.db, name, u.domain_id) is not None:
            raise _conflict(name, u.domain_id)
        u.name = name
    for field in ("default_project_id", "description", "email"):
        if field in data:
            setattr(u, field, data[field])
    if "password" in data:
        set_password(req.db, u, data["password"])
    if "enabled" in data and data["enabled"] != u.enabled:
        u.enabled = data["enabled"]
        if not u.enabled:
            store.revoke(req.db, user_id=u.id)
    more = extras(data, _PROPS)
    if more:
        u.extra = {**(u.extra or {}), **more}
    flush_or_conflict(req, lambda: _conflict(u.name, u.domain_id))
    store.bump_revision(req.db)


def register(router: Router) -> None:
    @router.route("POST", "/v3/users", status=201, schema=CREATE_SCHEMA)
    def create_user(req: Req) -> dict:
        data = req.body["user"]
        req.authorize(
            "identity:create_user",
            {"target": {"user": {k: v for k, v in data.items() if k != "password"}}},
        )
        return {"user": view(req, _create(req, data))}

    @router.route("GET", "/v3/users")
    def list_users(req: Req) -> dict:
        ctx = req.context
        domain_id = ctx.domain_id or req.query.get("domain_id")
        req.authorize("identity:list_users", {"target": {"domain_id": domain_id}})
        q = apply_filters(
            req,
            select(User).order_by(User.name),
            {"name": User.name, "domain_id": User.domain_id, "enabled": User.enabled},
        )
        if ctx.domain_id:
            q = q.where(User.domain_id == ctx.domain_id)
        q, size = paginate(req, q, User.id)
        return paged(req, "users", [view(req, u) for u in req.db.scalars(q)], size)

    @router.route("GET", "/v3/users/{user_id}")
    def get_user(req: Req) -> dict:
        return {"user": view(req, _load(req, "identity:get_user"))}

    @router.route("PATCH", "/v3/users/{user_id}", schema=UPDATE_SCHEMA)
    def update_user(req: Req) -> dict:
        u = _load(req, "identity:update_user")
        _update(req, u, req.body["user"])
        return {"user": view(req, u)}

    @router.route("DELETE", "/v3/users/{user_id}")
    def delete_user(req: Req) -> None:
        purge_users(req.db, [_load(req, "identity:delete_user").id])

    @router.route(
        "POST", "/v3/users/{user_id}/password", auth=False, status=204, schema=PASSWORD_SCHEMA
    )
    def change_password(req: Req) -> None:
        """Self-service: proven by the original password, not by a token."""
        data = req.body["user"]
        u = req.db.get(User, req.params["user_id"])
        ok = passwords.verify_password(u.password_hash if u else None, data["original_password"])
        if u is None or not ok or not u.enabled:
            raise errors.Unauthorized("Error when changing user password: Invalid user / password")
        set_password(req.db, u, data["password"])

    @router.route("GET", "/v3/users/{user_id}/groups")
    def list_user_groups(req: Req) -> dict:
        u = _load(req, "identity:list_groups_for_user")
        q = apply_filters(
            req,
            select(Group)
            .join(GroupMembership, GroupMembership.group_id == Group.id)
            .where(GroupMembership.user_id == u.id)
            .order_by(Group.name),
            {"name": Group.name, "domain_id": Group.domain_id},
        )
        return collection(
            req, "groups", (groups.view(req, g) for g in req.db.scalars(q)), f"/users/{u.id}/groups"
        )
