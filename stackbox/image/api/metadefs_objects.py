"""/v2/metadefs/namespaces/{namespace}/objects[/{object_name}]: list, create, show,
update (a full replacement: name, description, required, properties) and delete of a
namespace's objects, and DELETE of the whole collection (the namespace's delete policy;
403 while the namespace is protected). Object properties follow the property schema."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.api.framework import validate as validate_schema
from stackbox.db.base import utcnow
from stackbox.image import metadef_store as store
from stackbox.image.api import metadefs_common as mc
from stackbox.image.api.metadefs_schemas import OBJECT, PROPERTY
from stackbox.image.metadef_models import MetadefNamespace, MetadefObject

COLLECTION = "/v2/metadefs/namespaces/{namespace}/objects"
ITEM = COLLECTION + "/{object_name}"
# An object's property is a property without its own name (the dict key names it).
OBJECT_PROPERTY = {**PROPERTY, "required": ["type", "title"]}


def _not_found(name: str, ns: str) -> errors.NotFound:
    return errors.NotFound(
        f"The metadata definition object with name={name} was not found in namespace={ns}."
    )


def _get(req: Req, ns: MetadefNamespace, name: str) -> MetadefObject:
    obj = req.db.scalars(
        select(MetadefObject).where(MetadefObject.namespace_id == ns.id, MetadefObject.name == name)
    ).first()
    if obj is None:
        raise _not_found(name, ns.namespace)
    return obj


def _body(req: Req) -> dict[str, Any]:
    body = mc.check_writable(req.body)
    for value in (body.get("properties") or {}).values():
        validate_schema(OBJECT_PROPERTY, value)
    return body


def list_objects(req: Req) -> dict[str, Any]:
    ns = mc.get_namespace(req, req.params["namespace"], "get_metadef_objects")
    objects = [mc.object_view(ns.namespace, o) for o in mc.paged(req, MetadefObject, ns)]
    return {"objects": objects, "schema": "v2/schemas/metadefs/objects"}


def create_object(req: Req) -> tuple[dict[str, Any], int]:
    body = _body(req)
    ns = mc.get_namespace(req, req.params["namespace"], "add_metadef_object")
    obj = store.add_object(req.db, ns, body)
    return mc.object_view(ns.namespace, obj), 201


def show_object(req: Req) -> dict[str, Any]:
    ns = mc.get_namespace(req, req.params["namespace"], "get_metadef_object")
    return mc.object_view(ns.namespace, _get(req, ns, req.params["object_name"]))


def update_object(req: Req) -> dict[str, Any]:
    body = _body(req)
    ns = mc.get_namespace(req, req.params["namespace"], "modify_metadef_object")
    obj = _get(req, ns, req.params["object_name"])
    obj.name = body["name"]
    obj.description = body.get("description")
    obj.required = list(body.get("required") or []) or None
    obj.properties = store.property_schemas(body.get("properties"))
    obj.updated_at = utcnow()
    store.flush_or_conflict(
        req.db,
        f"A metadata definition object with name={obj.name} already exists in "
        f"namespace={ns.namespace}.",
    )
    return mc.object_view(ns.namespace, obj)


def delete_object(req: Req) -> None:
    ns = mc.get_namespace(req, req.params["namespace"], "delete_metadef_object")
    obj = _get(req, ns, req.params["object_name"])
    mc.refuse_if_protected(ns, f"object {obj.name}")
    req.db.delete(obj)


def delete_objects(req: Req) -> None:
    mc.delete_all(req, MetadefObject)


def register(router: Router) -> None:
    router.route("GET", COLLECTION)(list_objects)
    router.route("POST", COLLECTION, status=201, schema=OBJECT)(create_object)
    router.route("DELETE", COLLECTION, status=204)(delete_objects)
    router.route("GET", ITEM)(show_object)
    router.route("PUT", ITEM, schema=OBJECT)(update_object)
    router.route("DELETE", ITEM, status=204)(delete_object)
