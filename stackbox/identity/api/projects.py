"""/v3/projects: create, list (filters `name`, `domain_id`, `enabled`, `parent_id`,
`is_domain`, `tags`, `tags-any`, `not-tags`, `not-tags-any`), show, update, delete;
`/v3/projects/{id}/tags[/{tag}]`; and `GET /v3/users/{user_id}/projects`.

Top-level projects have their domain as `parent_id`. Unknown attributes round-trip
(stored as extra). Deleting or disabling a project revokes the tokens scoped to it;
deleting it also deletes the role assignments on it. `GET /v3/projects/{id}` is on the
hot path: one primary-key read, one policy check, one dict.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from stackbox.api import errors
from stackbox.api.framework import Req, Router, validate
from stackbox.identity import owned, store
from stackbox.identity.api import project_domains
from stackbox.identity.api.common import (
    BOOL,
    DEFAULT_DOMAIN_ID,
    NAME_64,
    NULLABLE_ID,
    NULLABLE_STR,
    TAG,
    TAGS,
    apply_filters,
    body_schema,
    collection,
    descendant_ids,
    extras,
    flush_or_conflict,
    not_found,
    paged,
    paginate,
    self_link,
    v3_url,
)
from stackbox.identity.models import Assignment, Domain, Project, User

_PROPS = {
    "name": NAME_64,
    "description": NULLABLE_STR,
    "domain_id": NULLABLE_ID,
    "enabled": BOOL,
    "is_domain": BOOL,
    "parent_id": NULLABLE_ID,
    "tags": TAGS,
    "options": {"type": "object"},
}
CREATE_SCHEMA = body_schema("project", _PROPS, ("name",))
UPDATE_SCHEMA = body_schema("project", _PROPS)
TAGS_SCHEMA = {"type": "object", "required": ["tags"], "properties": {"tags": TAGS}}


def view(req: Req, p: Project | SimpleNamespace) -> dict:
    """A project as Keystone shows it (extra attributes first, so they cannot shadow)."""
    out = dict(p.extra) if p.extra else {}
    out.update(
        id=p.id,
        name=p.name,
        domain_id=p.domain_id,
        description=p.description or "",
        enabled=p.enabled,
        parent_id=p.parent_id,
        is_domain=False,
        tags=list(p.tags or ()),
        options={},
        links=self_link(req, "projects", p.id),
    )
    return out


def _conflict(name: str, pid: str | None) -> errors.Conflict:
    return errors.Conflict(
        "Conflict occurred attempting to store project - it is not "
        "permitted to have two projects with either the same name or same "
        f"id in the same domain: name is {name}, project id {pid}."
    )


def _target(p: Project | SimpleNamespace | None) -> dict:
    if p is None:
        return {}
    return {"target": {"project": {"id": p.id, "domain_id": p.domain_id, "parent_id": p.parent_id}}}


def _load(req: Req, action: str) -> Project:
    """The path's project after the policy check (Keystone checks first, so a caller
    without rights gets 403 whether or not the project exists)."""
    pid = req.params["project_id"]
    p = req.db.get(Project, pid)
    req.authorize(action, _target(p))
    if p is None:
        raise not_found("project", pid)
    return p


def purge_projects(s: Session, ids: list[str]) -> None:
    """Delete projects with the assignments on them; revoke their tokens."""
    if not ids:
        return
    s.execute(delete(Assignment).where(Assignment.target_id.in_(ids)))
    for pid in ids:
        store.revoke(s, project_id=pid)
    owned.purge_for_projects(s, ids)
    s.execute(delete(Project).where(Project.id.in_(ids)))
    store.bump_revision(s)


def _tag_filter(req: Req, rows: Iterable[Any]) -> list[Any]:
    def split(name: str) -> set[str] | None:
        raw = req.query.get(name)
        return None if raw is None else {t for t in raw.split(",") if t}

    all_, any_, not_all, not_any = (
        split(n) for n in ("tags", "tags-any", "not-tags", "not-tags-any")
    )
    out = []
    for row in rows:
        have = set(row.tags or ())
        if all_ is not None and not all_ <= have:
            continue
        if any_ is not None and not any_ & have:
            continue
        if not_all is not None and not_all <= have:
            continue
        if not_any is not None and not_any & have:
            continue
        out.append(row)
    return out


def user_project_ids(s: Session, user_id: str) -> set[str]:
    """Projects the user holds a role on: directly, through a group, or inherited from a
    domain or a parent project."""
    actors = [user_id, *store.user_group_ids(s, user_id)]
    rows = s.execute(
        select(Assignment.type, Assignment.target_id, Assignment.inherited).where(
            Assignment.actor_id.in_(actors),
            Assignment.type.in_(
                (store.USER_PROJECT, store.GROUP_PROJECT, store.USER_DOMAIN, store.GROUP_DOMAIN)
            ),
        )
    ).all()
    ids = {t for kind, t, inh in rows if not inh and kind.endswith("Project")}
    inherited = {t for _k, t, inh in rows if inh}
    ids.update(descendant_ids(s, inherited))
    return ids


def _create(req: Req, data: dict) -> Project:
    domain_id, parent_id = data.get("domain_id"), data.get("parent_id")
    if parent_id and parent_id != domain_id:
        parent = req.db.get(Project, parent_id)
        if parent is None:
            if req.db.get(Domain, parent_id) is None:
                raise errors.BadRequest(f"Could not find project: {parent_id}.")
            domain_id = domain_id or parent_id
            if domain_id != parent_id:
                raise errors.BadRequest(
                    f"Cannot create project, the parent ({parent_id}) "
                    "is acting as a domain, but this project's domain id "
                    f"({domain_id}) does not match the parent's id."
                )
        else:
            domain_id = domain_id or parent.domain_id
            if domain_id != parent.domain_id:
                raise errors.BadRequest(
                    "Cannot create project, since it specifies its "
                    f"domain_id {domain_id}, but specifies a parent in a "
                    f"different domain ({parent.domain_id})."
                )
    domain_id = domain_id or req.context.domain_id or DEFAULT_DOMAIN_ID
    if req.db.get(Domain, domain_id) is None:
        raise not_found("domain", domain_id)
    name = data["name"].strip()
    if store.project_by_name(req.db, name, domain_id) is not None:
        raise _conflict(name, None)
    p = Project(
        name=name,
        domain_id=domain_id,
        parent_id=parent_id or domain_id,
        description=data.get("description", ""),
        enabled=data.get("enabled", True),
        tags=[t.strip() for t in data.get("tags") or []],
        extra=extras(data, _PROPS),
    )
    req.db.add(p)
    flush_or_conflict(req, lambda: _conflict(name, p.id))
    return p


def _update(req: Req, p: Project, data: dict) -> None:
    if "domain_id" in data and data["domain_id"] != p.domain_id:
        raise errors.BadRequest("Cannot change Domain ID")
    if "parent_id" in data and data["parent_id"] != p.parent_id:
        raise errors.Forbidden("Update of `parent_id` is not allowed.")
    if data.get("is_domain"):
        raise errors.BadRequest("Update of `is_domain` is not allowed.")
    if "id" in data and data["id"] != p.id:
        raise errors.BadRequest("Cannot change ID")
    if "name" in data and data["name"].strip() != p.name:
        name = data["name"].strip()
        if store.project_by_name(req.db, name, p.domain_id) is not None:
            raise _conflict(name, p.id)
        p.name = name
    if "description" in data:
        p.description = data["description"]
    if "tags" in data:
        p.tags = [t.strip() for t in data["tags"] or []]
    if "enabled" in data and data["enabled"] != p.enabled:
        if not data["enabled"] and req.db.scalar(
            select(Project.id).where(Project.parent_id == p.id, Project.enabled.is_(True)).limit(1)
        ):
            raise errors.Forbidden(
                f"Cannot disable project {p.id} since its subtree contains enabled projects."
            )
        p.enabled = data["enabled"]
        if not p.enabled:
            store.revoke(req.db, project_id=p.id)
    more = extras(data, _PROPS)
    if more:
        p.extra = {**(p.extra or {}), **more}
    flush_or_conflict(req, lambda: _conflict(p.name, p.id))
    store.bump_revision(req.db)


def register(router: Router) -> None:
    @router.route("GET", "/v3/projects/{project_id}")
    def get_project(req: Req) -> dict:
        pid = req.params["project_id"]
        # The hot path: a hit in the per-process entity cache (dropped whenever the
        # identity revision moves; every project write bumps it) opens no session.
        p = store.CACHE.get(lambda: req.db, Project, pid)
        if p is None:
            return {
                "project": project_domains.view(
                    req, project_domains.load(req, "identity:get_project")
                )
            }
        req.authorize("identity:get_project", _target(p))
        return {"project": view(req, p)}

    @router.route("POST", "/v3/projects", status=201, schema=CREATE_SCHEMA)
    def create_project(req: Req) -> dict:
        data = req.body["project"]
        req.authorize("identity:create_project", {"target": {"project": data}})
        if data.get("is_domain"):
            return {"project": project_domains.view(req, project_domains.create(req, data))}
        return {"project": view(req, _create(req, data))}

    @router.route("GET", "/v3/projects")
    def list_projects(req: Req) -> dict:
        ctx = req.context
        domain_id = ctx.domain_id or req.query.get("domain_id")
        req.authorize("identity:list_projects", {"target": {"domain_id": domain_id}})
        if req.query_bool("is_domain"):
            q = apply_filters(
                req,
                select(Domain).order_by(Domain.name),
                {"name": Domain.name, "enabled": Domain.enabled},
            )
            q, size = paginate(req, q, Domain.id)
            rows = [project_domains.view(req, d) for d in req.db.scalars(q)]
            return paged(req, "projects", rows, size)
        q = apply_filters(
            req,
            select(Project).order_by(Project.name),
            {
                "name": Project.name,
                "domain_id": Project.domain_id,
                "enabled": Project.enabled,
                "parent_id": Project.parent_id,
            },
        )
        if ctx.domain_id:
            q = q.where(Project.domain_id == ctx.domain_id)
        q, size = paginate(req, q, Project.id)
        projects = _tag_filter(req, req.db.scalars(q))
        return paged(req, "projects", [view(req, p) for p in projects], size)

    @router.route("PATCH", "/v3/projects/{project_id}", schema=UPDATE_SCHEMA)
    def update_project(req: Req) -> dict:
        if req.db.get(Project, req.params["project_id"]) is None:
            d = project_domains.load(req, "identity:update_project")
            project_domains.update(req, d, req.body["project"])
            return {"project": project_domains.view(req, d)}
        p = _load(req, "identity:update_project")
        _update(req, p, req.body["project"])
        return {"project": view(req, p)}

    @router.route("DELETE", "/v3/projects/{project_id}")
    def delete_project(req: Req) -> None:
        if req.db.get(Project, req.params["project_id"]) is None:
            project_domains.delete(req, project_domains.load(req, "identity:delete_project"))
            return
        p = _load(req, "identity:delete_project")
        if req.db.scalar(select(Project.id).where(Project.parent_id == p.id).limit(1)):
            raise errors.Forbidden(
                f"Cannot delete the project {p.id} since it is not a leaf "
                "in the hierarchy. Use the cascade option if you want to "
                "delete a whole subtree."
            )
        purge_projects(req.db, [p.id])

    @router.route("GET", "/v3/users/{user_id}/projects")
    def list_user_projects(req: Req) -> dict:
        uid = req.params["user_id"]
        user = req.db.get(User, uid)
        req.authorize(
            "identity:list_user_projects",
            {"target": {"user": {"id": uid, "domain_id": user.domain_id if user else None}}},
        )
        if user is None:
            raise not_found("user", uid)
        ids = user_project_ids(req.db, uid)
        q = apply_filters(
            req,
            select(Project).where(Project.id.in_(ids)).order_by(Project.name),
            {"name": Project.name, "domain_id": Project.domain_id, "enabled": Project.enabled},
        )
        return collection(
            req, "projects", (view(req, p) for p in req.db.scalars(q)), f"/users/{uid}/projects"
        )

    _register_tags(router)


def _register_tags(router: Router) -> None:
    def tags_body(req: Req, p: Project) -> dict:
        return {
            "tags": list(p.tags or ()),
            "links": {"self": v3_url(req, f"/projects/{p.id}/tags")},
        }

    @router.route("GET", "/v3/projects/{project_id}/tags")
    def list_tags(req: Req) -> dict:
        return tags_body(req, _load(req, "identity:list_project_tags"))

    @router.route("PUT", "/v3/projects/{project_id}/tags", schema=TAGS_SCHEMA)
    def replace_tags(req: Req) -> dict:
        p = _load(req, "identity:update_project_tags")
        p.tags = [t.strip() for t in req.body["tags"]]
        store.bump_revision(req.db)
        return tags_body(req, p)

    @router.route("DELETE", "/v3/projects/{project_id}/tags")
    def delete_tags(req: Req) -> None:
        _load(req, "identity:delete_project_tags").tags = []
        store.bump_revision(req.db)

    def tag_of(req: Req) -> str:
        tag = req.params["tag"]
        validate(TAG, tag)
        return tag

    @router.route("GET", "/v3/projects/{project_id}/tags/{tag}")
    def check_tag(req: Req) -> None:
        p = _load(req, "identity:get_project_tag")
        if req.params["tag"] not in (p.tags or ()):
            raise errors.NotFound(f"Could not find project tag: {req.params['tag']}.")

    @router.route("PUT", "/v3/projects/{project_id}/tags/{tag}")
    def add_tag(req: Req) -> Response:
        p = _load(req, "identity:create_project_tag")
        tag = tag_of(req).strip()
        tags = list(p.tags or ())
        if tag not in tags:
            if len(tags) >= 80:
                raise errors.BadRequest("A project can have at most 80 tags.")
            p.tags = [*tags, tag]
            store.bump_revision(req.db)
        return Response(
            status_code=201, headers={"Location": v3_url(req, f"/projects/{p.id}/tags/{tag}")}
        )

    @router.route("DELETE", "/v3/projects/{project_id}/tags/{tag}")
    def delete_tag(req: Req) -> None:
        p = _load(req, "identity:delete_project_tag")
        tag = req.params["tag"]
        if tag not in (p.tags or ()):
            raise errors.NotFound(f"Could not find project tag: {tag}.")
        p.tags = [t for t in p.tags if t != tag]
        store.bump_revision(req.db)
