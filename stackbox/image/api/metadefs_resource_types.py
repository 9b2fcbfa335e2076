"""/v2/metadefs/resource_types (every resource type known: the seeded system types and
those associations created) and /v2/metadefs/namespaces/{namespace}/resource_types
[/{resource_type}]: a namespace's associations (name, prefix, properties_target),
created (naming a new resource type creates it, as Glance does) and removed (403 while
the namespace is protected)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.image import metadef_store as store
from stackbox.image.api import metadefs_common as mc
from stackbox.image.api.metadefs_schemas import RESOURCE_TYPE
from stackbox.image.metadef_models import MetadefAssociation, MetadefResourceType

ASSOCIATIONS = "/v2/metadefs/namespaces/{namespace}/resource_types"


def list_resource_types(req: Req) -> dict[str, Any]:
    req.authorize("list_metadef_resource_types", {"project_id": req.context.project_id})
    rows = req.db.scalars(select(MetadefResourceType).order_by(MetadefResourceType.id))
    return {
        "resource_types": [
            {
                "name": rt.name,
                "created_at": mc.ts(rt.created_at),
                "updated_at": mc.ts(rt.updated_at),
            }
            for rt in rows
        ]
    }


def list_associations(req: Req) -> dict[str, Any]:
    ns = mc.get_namespace(req, req.params["namespace"], "list_metadef_resource_types")
    found = mc.associations(req.db, [ns.id])[ns.id]
    if not req.allowed("get_metadef_resource_type", mc.target(ns)):
        found = []
    return {"resource_type_associations": found}


def create_association(req: Req) -> tuple[dict[str, Any], int]:
    body = req.body
    for key in ("created_at", "updated_at"):
        if key in body:
            raise errors.Forbidden(f"Attribute '{key}' is read-only.")
    ns = mc.get_namespace(req, req.params["namespace"], "add_metadef_resource_type_association")
    assoc, name = store.add_association(req.db, ns, body)
    return mc.association_view(assoc, name), 201


def delete_association(req: Req) -> None:
    ns = mc.get_namespace(req, req.params["namespace"], "remove_metadef_resource_type_association")
    name = req.params["resource_type"]
    rt_id = req.db.scalar(select(MetadefResourceType.id).where(MetadefResourceType.name == name))
    assoc = None if rt_id is None else req.db.get(MetadefAssociation, (ns.id, rt_id))
    if assoc is None:
        raise errors.NotFound(f"Failed to find resource type {name} to delete")
    mc.refuse_if_protected(ns, f"resource-type-association {name}")
    req.db.delete(assoc)


def register(router: Router) -> None:
    router.route("GET", "/v2/metadefs/resource_types")(list_resource_types)
    router.route("GET", ASSOCIATIONS)(list_associations)
    router.route("POST", ASSOCIATIONS, status=201, schema=RESOURCE_TYPE)(create_association)
    router.route("DELETE", ASSOCIATIONS + "/{resource_type}", status=204)(delete_association)
