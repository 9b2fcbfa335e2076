"""Flavor access (private flavors shared with projects): GET
/v2.1/flavors/{id}/os-flavor-access and POST /v2.1/flavors/{id}/action with
`addTenantAccess` / `removeTenantAccess`. Admin-only by default policy.

As Nova: the list is 404 for a public flavor; adding access to a public flavor is 409
from 2.7 on; adding an existing grant is 409, removing a missing one 404; an unknown
project is 400 (checked against the identity tables, which share the database).
"""

from __future__ import annotations

from sqlalchemy import select

from stackbox.api import errors
from stackbox.api.framework import Req, Router, validate
from stackbox.compute.api import flavor_views
from stackbox.compute.api.microversion import version
from stackbox.compute.models import Flavor, FlavorProject
from stackbox.identity.models import Project


def _tenant_schema(action: str) -> dict:
    return {
        "type": "object",
        "properties": {
            action: {
                "type": "object",
                "properties": {"tenant": {"type": "string", "minLength": 1, "maxLength": 255}},
                "required": ["tenant"],
                "additionalProperties": False,
            }
        },
        "required": [action],
        "additionalProperties": False,
    }


ADD = _tenant_schema("addTenantAccess")
REMOVE = _tenant_schema("removeTenantAccess")


def access_list(flavor: Flavor) -> dict:
    return {
        "flavor_access": [
            {"flavor_id": flavor.flavorid, "tenant_id": p.project_id} for p in flavor.projects
        ]
    }


def _project_exists(req: Req, project_id: str) -> bool:
    return req.db.scalar(select(Project.id).where(Project.id == project_id)) is not None


def _add(req: Req, flavor_id: str) -> dict:
    req.authorize("os_compute_api:os-flavor-access:add_tenant_access", {})
    validate(ADD, req.body)
    tenant = req.body["addTenantAccess"]["tenant"]
    if not _project_exists(req, tenant):
        raise errors.BadRequest(f"Project ID {tenant} is not a valid project.")
    flavor = flavor_views.get_flavor(req, flavor_id)
    if flavor.is_public and version(req) >= (2, 7):
        raise errors.Conflict("Can not add access to a public flavor.")
    if any(p.project_id == tenant for p in flavor.projects):
        raise errors.Conflict(
            f"Flavor access already exists for flavor {flavor.flavorid} and project "
            f"{tenant} combination."
        )
    flavor.projects.append(FlavorProject(project_id=tenant))
    req.db.flush()
    return access_list(flavor)


def _remove(req: Req, flavor_id: str) -> dict:
    req.authorize("os_compute_api:os-flavor-access:remove_tenant_access", {})
    validate(REMOVE, req.body)
    tenant = req.body["removeTenantAccess"]["tenant"]
    flavor = flavor_views.get_flavor(req, flavor_id)
    grant = next((p for p in flavor.projects if p.project_id == tenant), None)
    if grant is None:
        raise errors.NotFound(
            f"Flavor access not found for {flavor.flavorid} / {tenant} combination."
        )
    flavor.projects.remove(grant)
    req.db.flush()
    return access_list(flavor)


def register(router: Router) -> None:
    @router.route("GET", "/v2.1/flavors/{flavor_id}/os-flavor-access")
    def index(req: Req) -> dict:
        req.authorize("os_compute_api:os-flavor-access")
        flavor = flavor_views.get_flavor(req, req.params["flavor_id"])
        if flavor.is_public:
            raise errors.NotFound("Access list not available for public flavors.")
        return access_list(flavor)

    @router.route("POST", "/v2.1/flavors/{flavor_id}/action")
    def action(req: Req) -> dict:
        body = req.body
        if isinstance(body, dict) and "addTenantAccess" in body:
            return _add(req, req.params["flavor_id"])
        if isinstance(body, dict) and "removeTenantAccess" in body:
            return _remove(req, req.params["flavor_id"])
        if not isinstance(body, dict) or not body:
            raise errors.BadRequest("Malformed request body")
        raise errors.BadRequest(f"There is no such action: {', '.join(map(str, body))}")
