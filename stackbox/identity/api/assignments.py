"""GET /v3/role_assignments: who holds which role where, as Keystone lists it.

Filters `user.id`, `group.id`, `role.id`, `scope.project.id`, `scope.domain.id`,
`scope.system`, `scope.OS-INHERIT:inherited_to`; `include_subtree` (with
`scope.project.id`). `effective` expands group assignments into one per member,
inherited assignments into one per project below their target, and implied roles (with
a `prior_role` link); it leaves system assignments and domain-specific roles out, like
Keystone. `include_names` adds names to roles, actors and scopes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.identity import store
from stackbox.identity.api.common import descendant_ids, links_for, not_found, v3_url
from stackbox.identity.models import (
    Assignment,
    Domain,
    Group,
    GroupMembership,
    Project,
    Role,
    User,
)

_ACTOR = {
    store.USER_PROJECT: "user",
    store.USER_DOMAIN: "user",
    store.USER_SYSTEM: "user",
    store.GROUP_PROJECT: "group",
    store.GROUP_DOMAIN: "group",
    store.GROUP_SYSTEM: "group",
}
_SCOPE = {
    store.USER_PROJECT: "project",
    store.GROUP_PROJECT: "project",
    store.USER_DOMAIN: "domain",
    store.GROUP_DOMAIN: "domain",
    store.USER_SYSTEM: "system",
    store.GROUP_SYSTEM: "system",
}


@dataclass(frozen=True)
class Ref:
    """One (possibly derived) assignment; `indirect` says where a derived one came from
    (`group_id`, `domain_id`/`project_id` of an inherited grant, prior `role_id`)."""

    actor: str  # "user" | "group"
    actor_id: str
    scope: str  # "project" | "domain" | "system"
    target_id: str
    role_id: str
    inherited: bool
    indirect: dict = field(default_factory=dict, hash=False, compare=False)


def _check_filters(q: Any, effective: bool, inherited: bool | None) -> None:
    pairs = (
        ("scope.domain.id", "scope.project.id", "Specify a domain or project, not both"),
        ("scope.domain.id", "scope.system", "Specify system or domain, not both"),
        ("scope.project.id", "scope.system", "Specify system or project, not both"),
        ("user.id", "group.id", "Specify a user or group, not both"),
    )
    for a, b, msg in pairs:
        if q.get(a) and q.get(b):
            raise errors.BadRequest(msg)
    if effective and q.get("group.id"):
        raise errors.BadRequest(
            "Combining effective and group filter will always result in an empty list."
        )
    if effective and inherited and q.get("scope.domain.id"):
        raise errors.BadRequest(
            "Combining effective, domain and inherited filters will always result in an empty list."
        )


def _direct(
    s: Any,
    q: Any,
    inherited: bool | None,
    project_ids: list[str] | None,
    actor_ids: list[str] | None,
    effective: bool,
) -> list[Ref]:
    stmt = select(Assignment).order_by(
        Assignment.type, Assignment.actor_id, Assignment.target_id, Assignment.role_id
    )
    if actor_ids is not None:
        stmt = stmt.where(Assignment.actor_id.in_(actor_ids))
    if not effective:
        if q.get("role.id"):
            stmt = stmt.where(Assignment.role_id == q["role.id"])
        if q.get("group.id"):
            stmt = stmt.where(
                Assignment.type.in_((store.GROUP_PROJECT, store.GROUP_DOMAIN, store.GROUP_SYSTEM))
            )
        if inherited is not None:
            stmt = stmt.where(Assignment.inherited.is_(inherited))
        if q.get("scope.domain.id"):
            stmt = stmt.where(
                Assignment.target_id == q["scope.domain.id"],
                Assignment.type.in_((store.USER_DOMAIN, store.GROUP_DOMAIN)),
            )
        elif project_ids is not None:
            stmt = stmt.where(
                Assignment.target_id.in_(project_ids),
                Assignment.type.in_((store.USER_PROJECT, store.GROUP_PROJECT)),
            )
        elif q.get("scope.system"):
            stmt = stmt.where(Assignment.type.in_((store.USER_SYSTEM, store.GROUP_SYSTEM)))
    else:
        stmt = stmt.where(Assignment.type.not_in((store.USER_SYSTEM, store.GROUP_SYSTEM)))
    refs = [
        Ref(_ACTOR[a.type], a.actor_id, _SCOPE[a.type], a.target_id, a.role_id, a.inherited)
        for a in s.scalars(stmt)
    ]
    if q.get("user.id"):
        refs = [r for r in refs if r.actor == "user" or effective]
    return refs


def _expand(
    s: Any, refs: list[Ref], user_id: str | None, project_ids: list[str] | None
) -> list[Ref]:
    """Effective mode: groups to members, inherited grants to the projects below."""
    out: list[Ref] = []
    for ref in refs:
        members: list[tuple[str, str, dict]] = [(ref.actor, ref.actor_id, {})]
        if ref.actor == "group":
            uids = (
                [user_id]
                if user_id
                else list(
                    s.scalars(
                        select(GroupMembership.user_id).where(
                            GroupMembership.group_id == ref.actor_id
                        )
                    )
                )
            )
            members = [("user", u, {"group_id": ref.actor_id}) for u in uids]
        if ref.inherited:
            below = descendant_ids(s, [ref.target_id])
            if project_ids is not None:
                below = [p for p in below if p in project_ids]
            origin = {f"{ref.scope}_id": ref.target_id}
            targets = [("project", p, origin) for p in below]
        else:
            targets = [(ref.scope, ref.target_id, {})]
        for actor, aid, ind in members:
            for scope, tid, origin in targets:
                out.append(
                    replace(
                        ref,
                        actor=actor,
                        actor_id=aid,
                        scope=scope,
                        target_id=tid,
                        indirect={**ind, **origin},
                    )
                )
    return out


def _implied(refs: list[Ref], rules: dict[str, list[str]]) -> list[Ref]:
    """Each ref plus one per role its role implies (transitively), the prior role
    named in `indirect`; a cycle of rules is walked once."""
    out, seen = [], set()
    todo = list(refs)
    while todo:
        ref = todo.pop(0)
        sig = (ref, tuple(sorted(ref.indirect.items())))
        if sig in seen:
            continue
        seen.add(sig)
        out.append(ref)
        for implied in rules.get(ref.role_id, ()):
            todo.append(
                replace(ref, role_id=implied, indirect={**ref.indirect, "role_id": ref.role_id})
            )
    return out


def _format(req: Req, ref: Ref, names: dict[Any, dict] | None) -> dict:
    ent: dict[str, Any] = {"links": {}}
    ind = ref.indirect
    if ref.scope == "project":
        if "domain_id" in ind:
            link = f"/domains/{ind['domain_id']}"
        elif "project_id" in ind:
            link = f"/projects/{ind['project_id']}"
        else:
            link = f"/projects/{ref.target_id}"
    elif ref.scope == "domain":
        link = f"/domains/{ref.target_id}"
    else:
        link = "/system"
    ent["scope"] = {
        ref.scope: {"all": True}
        if ref.scope == "system"
        else _named(names, ref.scope, ref.target_id)
    }
    ent[ref.actor] = _named(names, ref.actor, ref.actor_id)
    if "group_id" in ind:
        ent["links"]["membership"] = v3_url(req, f"/groups/{ind['group_id']}/users/{ref.actor_id}")
        link += f"/groups/{ind['group_id']}"
    else:
        link += f"/{ref.actor}s/{ref.actor_id}"
    ent["role"] = _named(names, "role", ref.role_id)
    if "role_id" in ind:
        link += f"/roles/{ind['role_id']}"
        ent["links"]["prior_role"] = v3_url(
            req, f"/prior_role/{ref.role_id}/implies/{ind['role_id']}"
        )
    else:
        link += f"/roles/{ref.role_id}"
    if ref.inherited:
        ent["scope"]["OS-INHERIT:inherited_to"] = "projects"
        link = f"/OS-INHERIT{link}/inherited_to_projects"
    ent["links"]["assignment"] = v3_url(req, link)
    return ent


def _named(names: dict[Any, dict] | None, kind: str, rid: str) -> dict:
    if names is None:
        return {"id": rid}
    return names.get((kind, rid)) or {"id": rid}


def _names(s: Any, refs: list[Ref], roles: dict[str, Role]) -> dict:
    domains = {d.id: d.name for d in s.scalars(select(Domain))}
    out: dict[Any, dict] = {}

    def dom(did: str | None) -> dict:
        return {"id": did, "name": domains.get(did or "")}

    for r in roles.values():
        out[("role", r.id)] = {"id": r.id, "name": r.name}
        if r.domain_id:
            out[("role", r.id)]["domain"] = dom(r.domain_id)
    for model, kind in ((User, "user"), (Group, "group"), (Project, "project")):
        ids = {
            x.actor_id if kind != "project" else x.target_id
            for x in refs
            if (x.actor if kind != "project" else x.scope) == kind
        }
        for row in s.scalars(select(model).where(model.id.in_(ids))) if ids else ():
            out[(kind, row.id)] = {"id": row.id, "name": row.name, "domain": dom(row.domain_id)}
    for did, name in domains.items():
        out[("domain", did)] = {"id": did, "name": name}
    return out


def register(router: Router) -> None:
    @router.route("GET", "/v3/role_assignments")
    def list_role_assignments(req: Req) -> dict:
        q, s, ctx = req.query, req.db, req.context
        effective = bool(req.query_bool("effective"))
        inherited = None
        if "scope.OS-INHERIT:inherited_to" in q:
            inherited = q["scope.OS-INHERIT:inherited_to"] == "projects"
        project_ids = [q["scope.project.id"]] if q.get("scope.project.id") else None
        if req.query_bool("include_subtree"):
            if not project_ids:
                raise errors.BadRequest(
                    "scope.project.id must be specified if include_subtree is also specified"
                )
            p = s.get(Project, project_ids[0])
            req.authorize(
                "identity:list_role_assignments_for_tree",
                {
                    "target": {
                        "project": {"id": project_ids[0], "domain_id": p.domain_id if p else None}
                    }
                },
            )
            if p is None:
                raise not_found("project", project_ids[0])
            project_ids += descendant_ids(s, project_ids)
        else:
            req.authorize(
                "identity:list_role_assignments",
                {"target": {"domain_id": ctx.domain_id or q.get("scope.domain.id")}},
            )
        _check_filters(q, effective, inherited)
        actor_ids = None
        if q.get("user.id"):
            actor_ids = [q["user.id"]]
            if effective:
                actor_ids += store.user_group_ids(s, q["user.id"])
        elif q.get("group.id"):
            actor_ids = [q["group.id"]]
        refs = _direct(s, q, inherited, project_ids, actor_ids, effective)
        roles = {r.id: r for r in s.scalars(select(Role))}
        if effective:
            if q.get("scope.domain.id"):
                inherited = False
            refs = [r for r in refs if inherited is None or r.inherited == inherited]
            refs = _implied(
                _expand(s, refs, q.get("user.id"), project_ids), store.implication_rules(s)
            )
            refs = [
                r
                for r in refs
                if roles.get(r.role_id) is not None and roles[r.role_id].domain_id is None
            ]
            if q.get("role.id"):
                refs = [r for r in refs if r.role_id == q["role.id"]]
            if q.get("scope.domain.id"):
                refs = [
                    r for r in refs if r.scope == "domain" and r.target_id == q["scope.domain.id"]
                ]
            elif project_ids is not None:
                refs = [r for r in refs if r.scope == "project" and r.target_id in project_ids]
        if ctx.domain_id:
            in_domain = set(s.scalars(select(Project.id).where(Project.domain_id == ctx.domain_id)))
            refs = [
                r
                for r in refs
                if r.target_id == ctx.domain_id
                or (r.scope == "project" and r.target_id in in_domain)
            ]
        names = _names(s, refs, roles) if req.query_bool("include_names") else None
        return {
            "role_assignments": [_format(req, r, names) for r in refs],
            "links": links_for(req, "/role_assignments"),
        }
