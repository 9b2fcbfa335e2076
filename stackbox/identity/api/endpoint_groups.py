"""OS-EP-FILTER endpoint groups: `/v3/OS-EP-FILTER/endpoint_groups[/{id}]` (create, list
`?name=`, show/HEAD, update, delete), the endpoints a group selects, and its project
associations (`…/endpoint_groups/{id}/projects[/{project_id}]`,
`/v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups`).

A group is a filter over the catalog's endpoints by `service_id`, `region_id` and
`interface`. The associations are stored and served; the token catalog is not narrowed
by them (Keystone narrows it only with its endpoint-filter catalog driver).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.identity.api.catalog_api import endpoint_view
from stackbox.identity.api.common import NAME_255, get_or_404, links_for, v3_url
from stackbox.identity.api.projects import view as project_view
from stackbox.identity.models import CatalogEndpoint, Project
from stackbox.identity.models_extra import EndpointGroup, ProjectEndpointGroup

FILTER_KEYS = ("service_id", "region_id", "interface")
_PROPS: dict[str, Any] = {
    "name": NAME_255,
    "description": {"type": ["string", "null"]},
    "filters": {
        "type": "object",
        "properties": {
            "interface": {"type": "string", "enum": ["admin", "internal", "public"]},
            "service_id": {"type": "string"},
            "region_id": {"type": ["string", "null"]},
            "enabled": {"type": "boolean"},
        },
    },
}


def _schema(inner: dict) -> dict:
    return {
        "type": "object",
        "required": ["endpoint_group"],
        "properties": {"endpoint_group": inner},
        "additionalProperties": False,
    }


CREATE_SCHEMA = _schema(
    {
        "type": "object",
        "properties": _PROPS,
        "required": ["name", "filters"],
        "additionalProperties": False,
    }
)
UPDATE_SCHEMA = _schema(
    {"type": "object", "properties": _PROPS, "minProperties": 1, "additionalProperties": False}
)
PREFIX = "/v3/OS-EP-FILTER"


def view(req: Req, g: EndpointGroup) -> dict:
    return {
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "filters": dict(g.filters or {}),
        "links": {"self": v3_url(req, f"/OS-EP-FILTER/endpoint_groups/{g.id}")},
    }


def _check_filters(data: dict) -> None:
    bad = [k for k in data.get("filters") or {} if k not in FILTER_KEYS]
    if bad:
        raise errors.BadRequest(
            "Expecting to find service_id or region_id or interface in endpoint_group. "
            "The server could not comply with the request since it is either malformed "
            "or otherwise incorrect. The client is assumed to be in error."
        )


def _group(req: Req) -> EndpointGroup:
    return get_or_404(req, EndpointGroup, "endpoint group", req.params["endpoint_group_id"])


def _project(req: Req) -> Project:
    return get_or_404(req, Project, "project", req.params["project_id"])


def selected_endpoints(req: Req, g: EndpointGroup) -> list[CatalogEndpoint]:
    q = select(CatalogEndpoint).order_by(CatalogEndpoint.id)
    for key, value in (g.filters or {}).items():
        q = q.where(getattr(CatalogEndpoint, key) == value)
    return list(req.db.scalars(q))


def _register_groups(router: Router) -> None:
    @router.route("POST", f"{PREFIX}/endpoint_groups", status=201, schema=CREATE_SCHEMA)
    def create_group(req: Req) -> dict:
        req.authorize("identity:create_endpoint_group")
        data = req.body["endpoint_group"]
        if not data.get("filters"):
            raise errors.BadRequest("filters field is required and cannot be empty")
        _check_filters(data)
        g = EndpointGroup(
            name=data["name"], description=data.get("description"), filters=data["filters"]
        )
        req.db.add(g)
        req.db.flush()
        return {"endpoint_group": view(req, g)}

    @router.route("GET", f"{PREFIX}/endpoint_groups")
    def list_groups(req: Req) -> dict:
        req.authorize("identity:list_endpoint_groups")
        q = select(EndpointGroup).order_by(EndpointGroup.name, EndpointGroup.id)
        if req.query.get("name") is not None:
            q = q.where(EndpointGroup.name == req.query["name"])
        return {
            "endpoint_groups": [view(req, g) for g in req.db.scalars(q)],
            "links": links_for(req, "/OS-EP-FILTER/endpoint_groups"),
        }

    @router.route("GET", f"{PREFIX}/endpoint_groups/{{endpoint_group_id}}")
    def get_group(req: Req) -> dict:
        req.authorize("identity:get_endpoint_group")
        return {"endpoint_group": view(req, _group(req))}

    @router.route("PATCH", f"{PREFIX}/endpoint_groups/{{endpoint_group_id}}", schema=UPDATE_SCHEMA)
    def update_group(req: Req) -> dict:
        req.authorize("identity:update_endpoint_group")
        g = _group(req)
        data = req.body["endpoint_group"]
        if "filters" in data:
            _check_filters(data)
            g.filters = dict(data["filters"] or {})
        if "name" in data:
            g.name = data["name"]
        if "description" in data:
            g.description = data["description"]
        return {"endpoint_group": view(req, g)}

    @router.route("DELETE", f"{PREFIX}/endpoint_groups/{{endpoint_group_id}}")
    def delete_group(req: Req) -> None:
        req.authorize("identity:delete_endpoint_group")
        req.db.delete(_group(req))

    @router.route("GET", f"{PREFIX}/endpoint_groups/{{endpoint_group_id}}/endpoints")
    def group_endpoints(req: Req) -> dict:
        req.authorize("identity:list_endpoints_associated_with_endpoint_group")
        g = _group(req)
        return {
            "endpoints": [endpoint_view(req, e) for e in selected_endpoints(req, g)],
            "links": links_for(req, f"/OS-EP-FILTER/endpoint_groups/{g.id}/endpoints"),
        }


def _association(req: Req, g: EndpointGroup, p: Project) -> ProjectEndpointGroup | None:
    return req.db.get(ProjectEndpointGroup, (g.id, p.id))


def _associated(req: Req) -> tuple[EndpointGroup, Project, ProjectEndpointGroup]:
    """The path's group, project and their association; 404 when they are not associated."""
    p, g = _project(req), _group(req)
    row = _association(req, g, p)
    if row is None:
        raise errors.NotFound(
            f"Could not find endpoint group {g.id} associated with project {p.id}."
        )
    return g, p, row


def _register_projects(router: Router) -> None:
    member = f"{PREFIX}/endpoint_groups/{{endpoint_group_id}}/projects/{{project_id}}"

    @router.route("PUT", member, status=204)
    def add_project(req: Req) -> None:
        req.authorize("identity:add_endpoint_group_to_project")
        p, g = _project(req), _group(req)
        if _association(req, g, p) is None:
            req.db.add(ProjectEndpointGroup(endpoint_group_id=g.id, project_id=p.id))

    @router.route("GET", member)
    def check_project(req: Req) -> dict:
        req.authorize("identity:get_endpoint_group_in_project")
        g, p, _row = _associated(req)
        path = f"/OS-EP-FILTER/endpoint_groups/{g.id}/projects/{p.id}"
        return {
            "project_endpoint_group": {
                "endpoint_group_id": g.id,
                "project_id": p.id,
                "links": {"self": v3_url(req, path)},
            }
        }

    @router.route("DELETE", member)
    def remove_project(req: Req) -> None:
        req.authorize("identity:remove_endpoint_group_from_project")
        req.db.delete(_associated(req)[2])

    @router.route("GET", f"{PREFIX}/endpoint_groups/{{endpoint_group_id}}/projects")
    def group_projects(req: Req) -> dict:
        req.authorize("identity:list_projects_associated_with_endpoint_group")
        g = _group(req)
        q = (
            select(Project)
            .join(ProjectEndpointGroup, ProjectEndpointGroup.project_id == Project.id)
            .where(ProjectEndpointGroup.endpoint_group_id == g.id)
            .order_by(Project.name)
        )
        return {
            "projects": [project_view(req, p) for p in req.db.scalars(q)],
            "links": links_for(req, f"/OS-EP-FILTER/endpoint_groups/{g.id}/projects"),
        }

    @router.route("GET", f"{PREFIX}/projects/{{project_id}}/endpoint_groups")
    def project_groups(req: Req) -> dict:
        req.authorize("identity:list_endpoint_groups_for_project")
        p = _project(req)
        q = (
            select(EndpointGroup)
            .join(ProjectEndpointGroup, ProjectEndpointGroup.endpoint_group_id == EndpointGroup.id)
            .where(ProjectEndpointGroup.project_id == p.id)
            .order_by(EndpointGroup.name)
        )
        return {
            "endpoint_groups": [view(req, g) for g in req.db.scalars(q)],
            "links": links_for(req, f"/OS-EP-FILTER/projects/{p.id}/endpoint_groups"),
        }


def register(router: Router) -> None:
    _register_groups(router)
    _register_projects(router)
