"""Projects acting as domains (`is_domain: true`): Keystone stores every domain as such
a project; stackbox keeps domains in their own table and shows them in project form.
Creating one through /v3/projects creates a domain; showing, updating and deleting
/v3/projects/{domain_id} act on that domain (deleting it as DELETE /v3/domains does)."""

from __future__ import annotations

from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.identity import store
from stackbox.identity.api.common import (
    DEFAULT_DOMAIN_ID,
    extras,
    flush_or_conflict,
    not_found,
    self_link,
)
from stackbox.identity.models import Domain

KNOWN = ("name", "description", "domain_id", "enabled", "is_domain", "parent_id", "tags", "options")


def view(req: Req, d: Domain) -> dict:
    """A domain in project form (`?is_domain=true`): Keystone stores domains that way."""
    return {
        "id": d.id,
        "name": d.name,
        "domain_id": None,
        "description": d.description or "",
        "enabled": d.enabled,
        "parent_id": None,
        "is_domain": True,
        "tags": list((d.extra or {}).get("tags") or []),
        "options": {},
        "links": self_link(req, "projects", d.id),
    }


def create(req: Req, data: dict) -> Domain:
    """`is_domain: true`: a root project acting as a domain, i.e. a new domain."""
    if data.get("parent_id") or data.get("domain_id"):
        raise errors.BadRequest(
            "Invalid input: only root projects are allowed to act as domains, without "
            "a domain_id or parent_id."
        )
    name = data["name"].strip()
    if store.domain_by_name(req.db, name) is not None:
        raise _conflict(name)
    extra = extras(data, KNOWN)
    if data.get("tags"):
        extra["tags"] = [t.strip() for t in data["tags"]]
    d = Domain(
        name=name,
        description=data.get("description", ""),
        enabled=data.get("enabled", True),
        extra=extra,
    )
    req.db.add(d)
    flush_or_conflict(req, lambda: _conflict(name))
    return d


def update(req: Req, d: Domain, data: dict) -> None:
    """PATCH of a project acting as a domain: its name, description, enabled, extras."""
    if "name" in data and data["name"].strip() != d.name:
        name = data["name"].strip()
        if store.domain_by_name(req.db, name) is not None:
            raise _conflict(name)
        d.name = name
    if "description" in data:
        d.description = data["description"]
    if "enabled" in data:
        if d.id == DEFAULT_DOMAIN_ID and not data["enabled"]:
            raise errors.Forbidden("Cannot disable the default domain.")
        d.enabled = data["enabled"]
    d.extra = {**(d.extra or {}), **extras(data, KNOWN)}
    flush_or_conflict(req, lambda: _conflict(d.name))
    store.bump_revision(req.db)


def load(req: Req, action: str) -> Domain:
    """The path's project when it is one acting as a domain, after the policy check;
    404 when there is neither."""
    pid = req.params["project_id"]
    d = req.db.get(Domain, pid)
    target = {"target": {"project": {"id": pid, "domain_id": None, "parent_id": None}}}
    req.authorize(action, target if d is not None else {})
    if d is None:
        raise not_found("project", pid)
    return d


def delete(req: Req, d: Domain) -> None:
    """DELETE of a project acting as a domain: the domain, as DELETE /v3/domains does."""
    # `domains` imports this module (it purges projects), so it is imported here.
    from stackbox.identity.api import domains

    if d.id == DEFAULT_DOMAIN_ID:
        raise errors.Forbidden("Cannot delete the default domain.")
    if d.enabled:
        raise errors.Forbidden("Cannot delete a domain that is enabled, please disable it first.")
    domains.purge_domain(req, d)


def _conflict(name: str) -> errors.Conflict:
    return errors.Conflict(
        "Conflict occurred attempting to store project - it is not permitted to have "
        f"two projects acting as domains with the same name: {name}."
    )
