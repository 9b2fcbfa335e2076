"""/v3/roles (create, list by `name`/`domain_id`, show, update, delete) and role grants:

    PUT|GET|HEAD|DELETE /v3/{projects|domains}/{t}/{users|groups}/{a}/roles/{r}
    GET                 /v3/{projects|domains}/{t}/{users|groups}/{a}/roles
    PUT|GET|HEAD|DELETE /v3/system/{users|groups}/{a}/roles/{r}   (+ the list form)
    PUT|GET|HEAD|DELETE /v3/OS-INHERIT/{domains|projects}/{t}/{users|groups}/{a}/roles/{r}
                        /inherited_to_projects                   (+ the list form)

Global role names are unique (409). Roles with the `immutable` option cannot be
changed or deleted until the option is turned off. Every grant change bumps the
identity revision, so live tokens get their new roles (or stop validating) at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.identity import store
from stackbox.identity.api.common import (
    NAME_255,
    NULLABLE_ID,
    NULLABLE_STR,
    apply_filters,
    body_schema,
    collection,
    extras,
    flush_or_conflict,
    not_found,
    self_link,
)
from stackbox.identity.models import Assignment, Domain, Group, ImpliedRole, Project, Role, User

_OPTIONS = {
    "type": "object",
    "properties": {"immutable": {"type": ["boolean", "null"]}},
    "additionalProperties": False,
}
_PROPS = {
    "name": NAME_255,
    "description": NULLABLE_STR,
    "domain_id": NULLABLE_ID,
    "options": _OPTIONS,
}
CREATE_SCHEMA = body_schema("role", _PROPS, ("name",))
UPDATE_SCHEMA = body_schema("role", _PROPS)

# (path word, model, singular) of grant targets and actors, and the assignment types.
TARGETS: dict[str, tuple[Any, str]] = {
    "projects": (Project, "project"),
    "domains": (Domain, "domain"),
}
ACTORS: dict[str, tuple[Any, str]] = {"users": (User, "user"), "groups": (Group, "group")}
TYPES = {
    ("users", "projects"): store.USER_PROJECT,
    ("groups", "projects"): store.GROUP_PROJECT,
    ("users", "domains"): store.USER_DOMAIN,
    ("groups", "domains"): store.GROUP_DOMAIN,
    ("users", "system"): store.USER_SYSTEM,
    ("groups", "system"): store.GROUP_SYSTEM,
}


def view(req: Req, r: Role) -> dict:
    out = dict(r.extra) if r.extra else {}
    out.update(
        id=r.id,
        name=r.name,
        domain_id=r.domain_id,
        description=r.description,
        options=dict(r.options or {}),
        links=self_link(req, "roles", r.id),
    )
    return out


def _conflict(name: str) -> errors.Conflict:
    return errors.Conflict(
        f"Conflict occurred attempting to store role - Duplicate entry found with name {name}."
    )


def _name_taken(s: Session, name: str, domain_id: str | None) -> bool:
    cond = Role.domain_id.is_(None) if domain_id is None else Role.domain_id == domain_id
    return s.scalar(select(Role.id).where(Role.name == name, cond).limit(1)) is not None


def _load(req: Req, action: str) -> Role:
    rid = req.params["role_id"]
    r = req.db.get(Role, rid)
    req.authorize(
        action, {"target": {"role": {"id": rid, "domain_id": r.domain_id}}} if r is not None else {}
    )
    if r is None:
        raise not_found("role", rid)
    return r


def purge_roles(s: Session, ids: list[str]) -> None:
    if not ids:
        return
    s.execute(delete(Assignment).where(Assignment.role_id.in_(ids)))
    s.execute(
        delete(ImpliedRole).where(
            or_(ImpliedRole.prior_role_id.in_(ids), ImpliedRole.implied_role_id.in_(ids))
        )
    )
    s.execute(delete(Role).where(Role.id.in_(ids)))
    store.bump_revision(s)


def _immutable(r: Role, verb: str) -> errors.Forbidden:
    return errors.Forbidden(
        f"Unable to {verb} immutable role resource: `{r.id}. Set resource "
        'option "immutable" to false first.'
    )


def register(router: Router) -> None:
    @router.route("POST", "/v3/roles", status=201, schema=CREATE_SCHEMA)
    def create_role(req: Req) -> dict:
        data = req.body["role"]
        req.authorize("identity:create_role", {"target": {"role": data}})
        name, domain_id = data["name"].strip(), data.get("domain_id")
        if domain_id is not None and req.db.get(Domain, domain_id) is None:
            raise errors.BadRequest(f"Could not find domain: {domain_id}.")
        if _name_taken(req.db, name, domain_id):
            raise _conflict(name)
        options = {k: v for k, v in (data.get("options") or {}).items() if v is not None}
        r = Role(
            name=name,
            domain_id=domain_id,
            description=data.get("description"),
            options=options,
            extra=extras(data, _PROPS),
        )
        req.db.add(r)
        flush_or_conflict(req, lambda: _conflict(name))
        return {"role": view(req, r)}

    @router.route("GET", "/v3/roles")
    def list_roles(req: Req) -> dict:
        domain_id = req.query.get("domain_id")
        req.authorize("identity:list_roles", {"target": {"domain_id": domain_id}})
        q = apply_filters(
            req, select(Role).order_by(Role.name), {"name": Role.name, "domain_id": Role.domain_id}
        )
        if domain_id is None:  # Keystone lists global roles unless asked for a domain's
            q = q.where(Role.domain_id.is_(None))
        return collection(req, "roles", (view(req, r) for r in req.db.scalars(q)))

    @router.route("GET", "/v3/roles/{role_id}")
    def get_role(req: Req) -> dict:
        return {"role": view(req, _load(req, "identity:get_role"))}

    @router.route("PATCH", "/v3/roles/{role_id}", schema=UPDATE_SCHEMA)
    def update_role(req: Req) -> dict:
        r = _load(req, "identity:update_role")
        data = req.body["role"]
        opts = {**(r.options or {}), **(data.get("options") or {})}
        if (r.options or {}).get("immutable") and opts.get("immutable") is not False:
            raise _immutable(r, "update")
        if "domain_id" in data and data["domain_id"] != r.domain_id:
            raise errors.BadRequest("Cannot change Domain ID")
        if "name" in data and data["name"].strip() != r.name:
            if _name_taken(req.db, data["name"].strip(), r.domain_id):
                raise _conflict(data["name"].strip())
            r.name = data["name"].strip()
        if "description" in data:
            r.description = data["description"]
        r.options = {k: v for k, v in opts.items() if v is not None}
        more = extras(data, _PROPS)
        if more:
            r.extra = {**(r.extra or {}), **more}
        flush_or_conflict(req, lambda: _conflict(r.name))
        store.bump_revision(req.db)  # token bodies carry role names
        return {"role": view(req, r)}

    @router.route("DELETE", "/v3/roles/{role_id}")
    def delete_role(req: Req) -> None:
        r = _load(req, "identity:delete_role")
        if (r.options or {}).get("immutable"):
            raise _immutable(r, "delete")
        purge_roles(req.db, [r.id])

    for actor in ACTORS:
        for target in TARGETS:
            _grant_routes(router, actor, target, inherited=False)
            _grant_routes(router, actor, target, inherited=True)
        _grant_routes(router, actor, "system", inherited=False)


def _grant_routes(router: Router, actor: str, target: str, *, inherited: bool) -> None:
    """The four grant handlers (list, check, create, revoke) of one actor/target pair."""
    kind = TYPES[(actor, target)]
    if target == "system":
        base = f"/v3/system/{actor}/{{actor_id}}/roles"
        member, tail = base + "/{role_id}", ""
        singular = ACTORS[actor][1]
        names = {
            v: f"identity:{v}_system_grant_for_{singular}" for v in ("check", "create", "revoke")
        }
        names["list"] = f"identity:list_system_grants_for_{singular}"
    else:
        prefix = "/v3/OS-INHERIT" if inherited else "/v3"
        tail = "/inherited_to_projects" if inherited else ""
        base = f"{prefix}/{target}/{{target_id}}/{actor}/{{actor_id}}/roles"
        member = base + "/{role_id}" + tail
        base += tail
        names = {
            "check": "identity:check_grant",
            "create": "identity:create_grant",
            "revoke": "identity:revoke_grant",
            "list": "identity:list_grants",
        }

    def resolve(req: Req, verb: str) -> tuple[Role | None, str, str]:
        """(role, actor id, target id) after the 404 checks and the policy check."""
        p = req.params
        policy: dict[str, Any] = {}
        role = None
        if "role_id" in p:
            role = req.db.get(Role, p["role_id"])
            if role is None:
                raise not_found("role", p["role_id"])
            policy["role"] = {"id": role.id, "name": role.name, "domain_id": role.domain_id}
        model, what = ACTORS[actor]
        row = req.db.get(model, p["actor_id"])
        if row is None and verb != "revoke":
            raise not_found(what, p["actor_id"])
        policy[what] = {"id": p["actor_id"], "domain_id": row.domain_id if row else None}
        target_id = store.SYSTEM_ALL
        if target != "system":
            tmodel, twhat = TARGETS[target]
            trow = req.db.get(tmodel, p["target_id"])
            if trow is None:
                raise not_found(twhat, p["target_id"])
            target_id = trow.id
            policy[twhat] = {"id": trow.id, "domain_id": getattr(trow, "domain_id", trow.id)}
            if (
                role is not None
                and role.domain_id
                and verb == "create"
                and policy[twhat]["domain_id"] != role.domain_id
            ):
                raise errors.Forbidden(
                    f"Project {trow.id} must be in the same domain as the "
                    f"role {role.id} being assigned."
                )
        req.authorize(names[verb], {"target": policy})
        return role, p["actor_id"], target_id

    def key(role: Role, actor_id: str, target_id: str) -> tuple:
        return (kind, actor_id, target_id, role.id, inherited)

    def missing(role: Role, actor_id: str, target_id: str) -> errors.NotFound:
        return errors.NotFound(
            f"Could not find role assignment with role: {role.id}, user or "
            f"group: {actor_id}, project, domain, or system: {target_id}."
        )

    def list_grants(req: Req) -> dict:
        _, actor_id, target_id = resolve(req, "list")
        ids = select(Assignment.role_id).where(
            Assignment.type == kind,
            Assignment.actor_id == actor_id,
            Assignment.target_id == target_id,
            Assignment.inherited.is_(inherited),
        )
        rows = req.db.scalars(select(Role).where(Role.id.in_(ids)).order_by(Role.name))
        return collection(
            req, "roles", (view(req, r) for r in rows), req.raw.url.path.split("/v3", 1)[1]
        )

    def check_grant(req: Req) -> None:
        role, actor_id, target_id = resolve(req, "check")
        assert role is not None
        if req.db.get(Assignment, key(role, actor_id, target_id)) is None:
            raise missing(role, actor_id, target_id)

    def create_grant(req: Req) -> None:
        role, actor_id, target_id = resolve(req, "create")
        assert role is not None
        if req.db.get(Assignment, key(role, actor_id, target_id)) is None:
            req.db.add(
                Assignment(
                    type=kind,
                    actor_id=actor_id,
                    target_id=target_id,
                    role_id=role.id,
                    inherited=inherited,
                )
            )
            store.bump_revision(req.db)

    def revoke_grant(req: Req) -> None:
        role, actor_id, target_id = resolve(req, "revoke")
        assert role is not None
        row = req.db.get(Assignment, key(role, actor_id, target_id))
        if row is None:
            raise missing(role, actor_id, target_id)
        req.db.delete(row)
        store.bump_revision(req.db)

    router.route("GET", base)(list_grants)
    router.route("GET", member)(check_grant)
    router.route("PUT", member)(create_grant)
    router.route("DELETE", member)(revoke_grant)
