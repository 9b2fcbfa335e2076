"""The catalog API: /v3/regions (CRUD, `parent_region_id`), /v3/services (CRUD, filters
`type` and `name`) and /v3/endpoints (CRUD, filters `service_id`, `interface`,
`region_id`).

Endpoints take `region_id`, or the legacy `region` (which, as in Keystone, creates the
region when it does not exist); they show both. Every write bumps the identity revision,
so the token catalog (cached per process) is rebuilt.
"""

from __future__ import annotations

from sqlalchemy import select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.db.base import new_id
from stackbox.identity import catalog, store
from stackbox.identity.api.common import (
    BOOL,
    NULLABLE_STR,
    apply_filters,
    body_schema,
    collection,
    extras,
    get_or_404,
    self_link,
)
from stackbox.identity.models import CatalogEndpoint, CatalogService, Region

_REGION_ID = {"type": "string", "minLength": 1, "maxLength": 255}
_REGION = {
    "id": {**_REGION_ID, "minLength": 0},
    "description": NULLABLE_STR,
    "parent_region_id": {"type": ["string", "null"], "maxLength": 255},
}
REGION_CREATE = body_schema("region", _REGION)
REGION_UPDATE = body_schema("region", _REGION)
_SERVICE = {
    "type": {"type": "string", "minLength": 1, "maxLength": 255},
    "name": {"type": "string", "maxLength": 255},
    "description": NULLABLE_STR,
    "enabled": BOOL,
}
SERVICE_CREATE = body_schema("service", _SERVICE, ("type",))
SERVICE_UPDATE = body_schema("service", _SERVICE)
_ENDPOINT = {
    "interface": {"type": "string", "enum": list(catalog.INTERFACES)},
    "service_id": {"type": "string"},
    "url": {"type": "string", "maxLength": 225, "pattern": "^[a-zA-Z0-9+.-]+:.+"},
    "region_id": {"type": ["string", "null"]},
    "region": {"type": ["string", "null"]},
    "enabled": BOOL,
}
ENDPOINT_CREATE = body_schema("endpoint", _ENDPOINT, ("interface", "service_id", "url"))
ENDPOINT_UPDATE = body_schema("endpoint", _ENDPOINT)


def region_view(req: Req, r: Region) -> dict:
    out = dict(r.extra) if r.extra else {}
    out.update(
        id=r.id,
        description=r.description or "",
        parent_region_id=r.parent_region_id,
        links=self_link(req, "regions", r.id),
    )
    return out


def service_view(req: Req, s: CatalogService) -> dict:
    out = dict(s.extra) if s.extra else {}
    out.update(
        id=s.id,
        type=s.type,
        name=s.name or "",
        enabled=s.enabled,
        links=self_link(req, "services", s.id),
    )
    if s.description is not None:
        out["description"] = s.description
    return out


def endpoint_view(req: Req, e: CatalogEndpoint) -> dict:
    out = dict(e.extra) if e.extra else {}
    out.update(
        id=e.id,
        interface=e.interface,
        region_id=e.region_id,
        region=e.region_id,
        service_id=e.service_id,
        url=e.url,
        enabled=e.enabled,
        links=self_link(req, "endpoints", e.id),
    )
    return out


def _validation(attribute: str, target: str) -> errors.BadRequest:
    return errors.BadRequest(
        f"Expecting to find {attribute} in {target}. The server could "
        "not comply with the request since it is either malformed or "
        "otherwise incorrect. The client is assumed to be in error."
    )


# Regions ------------------------------------------------------------------------------


def _check_parent(req: Req, region_id: str, parent_id: str | None) -> None:
    seen = {region_id}
    current = parent_id
    while current:
        if current in seen:
            raise errors.BadRequest(
                f"The specified parent region {parent_id} would create a circular region hierarchy."
            )
        seen.add(current)
        parent = req.db.get(Region, current)
        if parent is None:
            raise errors.NotFound(f"Could not find region: {current}.")
        current = parent.parent_region_id


def _create_region(req: Req, data: dict, region_id: str | None) -> dict:
    req.authorize("identity:create_region", {"target": {"region": data}})
    if region_id is not None and data.get("id") not in (None, "", region_id):
        raise errors.BadRequest(
            f'Conflicting region IDs specified: "{data["id"]}" != "{region_id}"'
        )
    rid = region_id or data.get("id") or new_id()
    if req.db.get(Region, rid) is not None:
        raise errors.Conflict(
            f"Conflict occurred attempting to store region - Duplicate ID, {rid}."
        )
    _check_parent(req, rid, data.get("parent_region_id"))
    r = Region(
        id=rid,
        description=data.get("description") or "",
        parent_region_id=data.get("parent_region_id"),
        extra=extras(data, _REGION),
    )
    req.db.add(r)
    store.bump_revision(req.db)
    return {"region": region_view(req, r)}


def _region_subtree(req: Req, rid: str) -> list[str]:
    out, todo = [rid], [rid]
    while todo:
        kids = list(req.db.scalars(select(Region.id).where(Region.parent_region_id.in_(todo))))
        todo = [k for k in kids if k not in out]
        out.extend(todo)
    return out


def _register_regions(router: Router) -> None:
    @router.route("POST", "/v3/regions", status=201, schema=REGION_CREATE)
    def create_region(req: Req) -> dict:
        return _create_region(req, req.body["region"], None)

    @router.route("PUT", "/v3/regions/{region_id}", status=201, schema=REGION_CREATE)
    def create_region_with_id(req: Req) -> dict:
        return _create_region(req, req.body["region"], req.params["region_id"])

    @router.route("GET", "/v3/regions")
    def list_regions(req: Req) -> dict:
        req.authorize("identity:list_regions")
        q = apply_filters(
            req, select(Region).order_by(Region.id), {"parent_region_id": Region.parent_region_id}
        )
        return collection(req, "regions", (region_view(req, r) for r in req.db.scalars(q)))

    @router.route("GET", "/v3/regions/{region_id}")
    def get_region(req: Req) -> dict:
        req.authorize("identity:get_region")
        return {
            "region": region_view(req, get_or_404(req, Region, "region", req.params["region_id"]))
        }

    @router.route("PATCH", "/v3/regions/{region_id}", schema=REGION_UPDATE)
    def update_region(req: Req) -> dict:
        req.authorize("identity:update_region")
        r = get_or_404(req, Region, "region", req.params["region_id"])
        data = req.body["region"]
        if data.get("id") not in (None, r.id):
            raise errors.BadRequest("Cannot change region ID")
        if "parent_region_id" in data:
            _check_parent(req, r.id, data["parent_region_id"])
            r.parent_region_id = data["parent_region_id"]
        if "description" in data:
            r.description = data["description"] or ""
        more = extras(data, _REGION)
        if more:
            r.extra = {**(r.extra or {}), **more}
        store.bump_revision(req.db)
        return {"region": region_view(req, r)}

    @router.route("DELETE", "/v3/regions/{region_id}")
    def delete_region(req: Req) -> None:
        req.authorize("identity:delete_region")
        r = get_or_404(req, Region, "region", req.params["region_id"])
        ids = _region_subtree(req, r.id)
        if req.db.scalar(
            select(CatalogEndpoint.id).where(CatalogEndpoint.region_id.in_(ids)).limit(1)
        ):
            raise errors.Forbidden(
                f"Unable to delete region {r.id} because it or its child "
                "regions have associated endpoints."
            )
        for rid in reversed(ids):
            req.db.delete(req.db.get(Region, rid))
        store.bump_revision(req.db)


# Services and endpoints -----------------------------------------------------------------


def _register_services(router: Router) -> None:
    @router.route("POST", "/v3/services", status=201, schema=SERVICE_CREATE)
    def create_service(req: Req) -> dict:
        data = req.body["service"]
        req.authorize("identity:create_service", {"target": {"service": data}})
        s = CatalogService(
            type=data["type"],
            name=data.get("name", ""),
            description=data.get("description"),
            enabled=data.get("enabled", True),
            extra=extras(data, _SERVICE),
        )
        req.db.add(s)
        req.db.flush()
        store.bump_revision(req.db)
        return {"service": service_view(req, s)}

    @router.route("GET", "/v3/services")
    def list_services(req: Req) -> dict:
        req.authorize("identity:list_services")
        q = apply_filters(
            req,
            select(CatalogService).order_by(CatalogService.type),
            {"type": CatalogService.type, "name": CatalogService.name},
        )
        return collection(req, "services", (service_view(req, s) for s in req.db.scalars(q)))

    @router.route("GET", "/v3/services/{service_id}")
    def get_service(req: Req) -> dict:
        req.authorize("identity:get_service")
        return {
            "service": service_view(
                req, get_or_404(req, CatalogService, "service", req.params["service_id"])
            )
        }

    @router.route("PATCH", "/v3/services/{service_id}", schema=SERVICE_UPDATE)
    def update_service(req: Req) -> dict:
        req.authorize("identity:update_service")
        s = get_or_404(req, CatalogService, "service", req.params["service_id"])
        data = req.body["service"]
        for f in ("type", "name", "description", "enabled"):
            if f in data:
                setattr(s, f, data[f])
        more = extras(data, _SERVICE)
        if more:
            s.extra = {**(s.extra or {}), **more}
        store.bump_revision(req.db)
        return {"service": service_view(req, s)}

    @router.route("DELETE", "/v3/services/{service_id}")
    def delete_service(req: Req) -> None:
        req.authorize("identity:delete_service")
        s = get_or_404(req, CatalogService, "service", req.params["service_id"])
        for e in req.db.scalars(select(CatalogEndpoint).where(CatalogEndpoint.service_id == s.id)):
            req.db.delete(e)
        req.db.flush()
        req.db.delete(s)
        store.bump_revision(req.db)


def _endpoint_region(req: Req, data: dict) -> str | None:
    """The region an endpoint body names: `region_id` must exist; the legacy `region` is
    created when missing (Keystone's backward compatibility)."""
    if data.get("region_id") is not None:
        if req.db.get(Region, data["region_id"]) is None:
            raise _validation("endpoint region_id", "region table")
        return data["region_id"]
    if data.get("region") is not None:
        if req.db.get(Region, data["region"]) is None:
            req.db.add(Region(id=data["region"], description="", extra={}))
        return data["region"]
    return None


def _register_endpoints(router: Router) -> None:
    @router.route("POST", "/v3/endpoints", status=201, schema=ENDPOINT_CREATE)
    def create_endpoint(req: Req) -> dict:
        data = req.body["endpoint"]
        req.authorize("identity:create_endpoint", {"target": {"endpoint": data}})
        if req.db.get(CatalogService, data["service_id"]) is None:
            raise _validation("endpoint service_id", "service table")
        e = CatalogEndpoint(
            service_id=data["service_id"],
            interface=data["interface"],
            url=data["url"],
            region_id=_endpoint_region(req, data),
            enabled=data.get("enabled", True),
            extra=extras(data, _ENDPOINT),
        )
        req.db.add(e)
        req.db.flush()
        store.bump_revision(req.db)
        return {"endpoint": endpoint_view(req, e)}

    @router.route("GET", "/v3/endpoints")
    def list_endpoints(req: Req) -> dict:
        req.authorize("identity:list_endpoints")
        q = apply_filters(
            req,
            select(CatalogEndpoint).order_by(CatalogEndpoint.service_id, CatalogEndpoint.interface),
            {
                "service_id": CatalogEndpoint.service_id,
                "interface": CatalogEndpoint.interface,
                "region_id": CatalogEndpoint.region_id,
                "region": CatalogEndpoint.region_id,
            },
        )
        return collection(req, "endpoints", (endpoint_view(req, e) for e in req.db.scalars(q)))

    @router.route("GET", "/v3/endpoints/{endpoint_id}")
    def get_endpoint(req: Req) -> dict:
        req.authorize("identity:get_endpoint")
        return {
            "endpoint": endpoint_view(
                req, get_or_404(req, CatalogEndpoint, "endpoint", req.params["endpoint_id"])
            )
        }

    @router.route("PATCH", "/v3/endpoints/{endpoint_id}", schema=ENDPOINT_UPDATE)
    def update_endpoint(req: Req) -> dict:
        req.authorize("identity:update_endpoint")
        e = get_or_404(req, CatalogEndpoint, "endpoint", req.params["endpoint_id"])
        data = req.body["endpoint"]
        if "service_id" in data and data["service_id"] != e.service_id:
            if req.db.get(CatalogService, data["service_id"]) is None:
                raise _validation("endpoint service_id", "service table")
            e.service_id = data["service_id"]
        if "region_id" in data or "region" in data:
            e.region_id = _endpoint_region(req, data)
        for f in ("interface", "url", "enabled"):
            if f in data:
                setattr(e, f, data[f])
        more = extras(data, _ENDPOINT)
        if more:
            e.extra = {**(e.extra or {}), **more}
        store.bump_revision(req.db)
        return {"endpoint": endpoint_view(req, e)}

    @router.route("DELETE", "/v3/endpoints/{endpoint_id}")
    def delete_endpoint(req: Req) -> None:
        req.authorize("identity:delete_endpoint")
        req.db.delete(get_or_404(req, CatalogEndpoint, "endpoint", req.params["endpoint_id"]))
        store.bump_revision(req.db)


def register(router: Router) -> None:
    _register_regions(router)
    _register_services(router)
    _register_endpoints(router)
