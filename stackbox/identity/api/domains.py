"""/v3/domains: create, list (`?name=`, `?enabled=`), show, update, delete.

A domain must be disabled before it is deleted (403 otherwise, as Keystone); deleting
it deletes its projects, users, groups and domain-specific roles with every assignment
on or of them. The Default domain (id `default`) can be neither disabled nor deleted:
the bootstrap admin lives there.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.identity import store
from stackbox.identity.api import groups, projects, roles, users
from stackbox.identity.api.common import (
    BOOL,
    DEFAULT_DOMAIN_ID,
    ID_STR,
    NAME_64,
    NULLABLE_STR,
    TAGS,
    apply_filters,
    body_schema,
    extras,
    flush_or_conflict,
    not_found,
    paged,
    paginate,
    self_link,
)
from stackbox.identity.models import Assignment, Domain, Group, Project, Role, User

_PROPS = {
    "name": NAME_64,
    "description": NULLABLE_STR,
    "enabled": BOOL,
    "tags": TAGS,
    "options": {"type": "object"},
}
CREATE_SCHEMA = body_schema("domain", {**_PROPS, "explicit_domain_id": ID_STR}, ("name",))
UPDATE_SCHEMA = body_schema("domain", _PROPS)
_KNOWN = (*_PROPS, "explicit_domain_id")


def view(req: Req, d: Domain) -> dict:
    """A domain as Keystone shows it; unknown attributes given at create time (and the
    tags, which have no column) live in `extra`."""
    out = dict(d.extra or {})
    out.update(
        id=d.id,
        name=d.name,
        description=d.description or "",
        enabled=d.enabled,
        tags=list(out.get("tags") or []),
        options={},
        links=self_link(req, "domains", d.id),
    )
    return out


def _conflict(name: str) -> errors.Conflict:
    return errors.Conflict(
        "Conflict occurred attempting to store project - it is not "
        "permitted to have two projects acting as domains with the same "
        f"name: {name}."
    )


def _target(d: Domain | None) -> dict:
    return {"target": {"domain": {"id": d.id, "name": d.name}}} if d is not None else {}


def purge_domain(req: Req, d: Domain) -> None:
    """Delete a domain and everything in it."""
    s = req.db
    projects.purge_projects(s, list(s.scalars(select(Project.id).where(Project.domain_id == d.id))))
    users.purge_users(s, list(s.scalars(select(User.id).where(User.domain_id == d.id))))
    groups.purge_groups(s, list(s.scalars(select(Group.id).where(Group.domain_id == d.id))))
    roles.purge_roles(s, list(s.scalars(select(Role.id).where(Role.domain_id == d.id))))
    s.execute(delete(Assignment).where(Assignment.target_id == d.id))
    s.execute(delete(Domain).where(Domain.id == d.id))
    store.bump_revision(s)


def register(router: Router) -> None:
    @router.route("POST", "/v3/domains", status=201, schema=CREATE_SCHEMA)
    def create_domain(req: Req) -> dict:
        data = req.body["domain"]
        req.authorize("identity:create_domain", {"target": {"domain": data}})
        name = data["name"].strip()
        if store.domain_by_name(req.db, name) is not None:
            raise _conflict(name)
        d = Domain(
            name=name,
            description=data.get("description", ""),
            enabled=data.get("enabled", True),
            extra=extras(data, _KNOWN),
        )
        if data.get("tags"):
            d.extra = {**d.extra, "tags": list(data["tags"])}
        if data.get("explicit_domain_id"):
            if req.db.get(Domain, data["explicit_domain_id"]) is not None:
                raise errors.Conflict(
                    "Conflict occurred attempting to store domain - "
                    f"Duplicate ID, {data['explicit_domain_id']}."
                )
            d.id = data["explicit_domain_id"]
        req.db.add(d)
        flush_or_conflict(req, lambda: _conflict(name))
        return {"domain": view(req, d)}

    @router.route("GET", "/v3/domains")
    def list_domains(req: Req) -> dict:
        req.authorize("identity:list_domains")
        q = apply_filters(
            req,
            select(Domain).order_by(Domain.name),
            {"name": Domain.name, "enabled": Domain.enabled, "id": Domain.id},
        )
        q, size = paginate(req, q, Domain.id)
        return paged(req, "domains", [view(req, d) for d in req.db.scalars(q)], size)

    @router.route("GET", "/v3/domains/{domain_id}")
    def get_domain(req: Req) -> dict:
        did = req.params["domain_id"]
        d = req.db.get(Domain, did)
        req.authorize("identity:get_domain", _target(d) or {"target": {"domain": {"id": did}}})
        if d is None:
            raise not_found("domain", did)
        return {"domain": view(req, d)}

    @router.route("PATCH", "/v3/domains/{domain_id}", schema=UPDATE_SCHEMA)
    def update_domain(req: Req) -> dict:
        did = req.params["domain_id"]
        d = req.db.get(Domain, did)
        req.authorize("identity:update_domain", _target(d))
        if d is None:
            raise not_found("domain", did)
        data = req.body["domain"]
        if "id" in data and data["id"] != d.id:
            raise errors.BadRequest("Cannot change Domain ID")
        if "name" in data and data["name"].strip() != d.name:
            name = data["name"].strip()
            if store.domain_by_name(req.db, name) is not None:
                raise _conflict(name)
            d.name = name
        if "description" in data:
            d.description = data["description"]
        if "enabled" in data and data["enabled"] != d.enabled:
            if d.id == DEFAULT_DOMAIN_ID and not data["enabled"]:
                raise errors.Forbidden("Cannot disable the default domain.")
            d.enabled = data["enabled"]
        extra = {**(d.extra or {}), **extras(data, _KNOWN)}
        if "tags" in data:
            extra["tags"] = list(data["tags"] or [])
        d.extra = extra
        flush_or_conflict(req, lambda: _conflict(d.name))
        # Disabling a domain invalidates every token of its users and projects.
        store.bump_revision(req.db)
        return {"domain": view(req, d)}

    @router.route("DELETE", "/v3/domains/{domain_id}")
    def delete_domain(req: Req) -> None:
        did = req.params["domain_id"]
        d = req.db.get(Domain, did)
        req.authorize("identity:delete_domain", _target(d))
        if d is None:
            raise not_found("domain", did)
        if d.id == DEFAULT_DOMAIN_ID:
            raise errors.Forbidden("Cannot delete the default domain.")
        if d.enabled:
            raise errors.Forbidden(
                "Cannot delete a domain that is enabled, please disable it first."
            )
        purge_domain(req, d)
