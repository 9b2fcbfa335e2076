"""/v2/metadefs/namespaces/{namespace}/properties[/{property_name}]: a namespace's
property definitions (a dict by name), created, shown (`?resource_type=` accepts the
name with that resource type's prefix, as Nova's keys are written), replaced by PUT
(which may rename), deleted one by one or all at once (403 while the namespace is
protected)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.db.base import utcnow
from stackbox.image import metadef_store as store
from stackbox.image.api import metadefs_common as mc
from stackbox.image.api.metadefs_schemas import PROPERTY
from stackbox.image.metadef_models import (
    MetadefAssociation,
    MetadefNamespace,
    MetadefProperty,
    MetadefResourceType,
)

COLLECTION = "/v2/metadefs/namespaces/{namespace}/properties"
ITEM = COLLECTION + "/{property_name}"


def _not_found(name: str, ns: str) -> errors.NotFound:
    return errors.NotFound(
        f"The metadata definition property with name={name} was not found in namespace={ns}."
    )


def _get(req: Req, ns: MetadefNamespace, name: str) -> MetadefProperty:
    prop = req.db.scalars(
        select(MetadefProperty).where(
            MetadefProperty.namespace_id == ns.id, MetadefProperty.name == name
        )
    ).first()
    if prop is None:
        raise _not_found(name, ns.namespace)
    return prop


def _view(prop: MetadefProperty) -> dict[str, Any]:
    return {"name": prop.name, **prop.json_schema}


def _unprefixed(req: Req, ns: MetadefNamespace, name: str, type_name: str) -> str:
    """`name` without the prefix the namespace takes on `type_name` (404 when the
    namespace is not associated with it or the name lacks the prefix)."""
    mc.authorize(req, "get_metadef_resource_type", ns)
    rt_id = req.db.scalar(
        select(MetadefResourceType.id).where(MetadefResourceType.name == type_name)
    )
    if rt_id is None:
        raise errors.NotFound(
            f"The metadata definition resource-type with name={type_name}, was not found."
        )
    assoc = req.db.get(MetadefAssociation, (ns.id, rt_id))
    if assoc is None:
        raise errors.NotFound(
            f"The metadata definition resource-type association of resource-type={type_name} "
            f"to namespace={ns.namespace}, was not found."
        )
    prefix = assoc.prefix
    if not prefix or not name.startswith(prefix):
        raise errors.NotFound(
            f"Property {name} does not start with the expected resource type association "
            f"prefix of '{prefix}'."
        )
    return name[len(prefix) :]


def list_properties(req: Req) -> dict[str, Any]:
    ns = mc.get_namespace(req, req.params["namespace"], "get_metadef_properties")
    rows = req.db.scalars(
        select(MetadefProperty)
        .where(MetadefProperty.namespace_id == ns.id)
        .order_by(MetadefProperty.name)
    )
    return {"properties": {p.name: dict(p.json_schema) for p in rows}}


def create_property(req: Req) -> tuple[dict[str, Any], int]:
    body = mc.check_writable(req.body)
    ns = mc.get_namespace(req, req.params["namespace"], "add_metadef_property")
    prop = store.add_property(req.db, ns, body["name"], body)
    return _view(prop), 201


def show_property(req: Req) -> dict[str, Any]:
    ns = mc.get_namespace(req, req.params["namespace"], "get_metadef_property")
    name = req.params["property_name"]
    type_name = req.query.get("resource_type")
    if type_name:
        name = _unprefixed(req, ns, name, type_name)
    return _view(_get(req, ns, name))


def update_property(req: Req) -> dict[str, Any]:
    body = mc.check_writable(req.body)
    ns = mc.get_namespace(req, req.params["namespace"], "modify_metadef_property")
    prop = _get(req, ns, req.params["property_name"])
    prop.name = body["name"]
    prop.json_schema = store.property_schema(body)
    prop.updated_at = utcnow()
    store.flush_or_conflict(
        req.db,
        f"A metadata definition property with name={prop.name} already exists in "
        f"namespace={ns.namespace}.",
    )
    return _view(prop)


def delete_property(req: Req) -> None:
    ns = mc.get_namespace(req, req.params["namespace"], "remove_metadef_property")
    prop = _get(req, ns, req.params["property_name"])
    mc.refuse_if_protected(ns, f"property {prop.name}")
    req.db.delete(prop)


def delete_properties(req: Req) -> None:
    mc.delete_all(req, MetadefProperty)


def register(router: Router) -> None:
    router.route("GET", COLLECTION)(list_properties)
    router.route("POST", COLLECTION, status=201, schema=PROPERTY)(create_property)
    router.route("DELETE", COLLECTION, status=204)(delete_properties)
    router.route("GET", ITEM)(show_property)
    router.route("PUT", ITEM, schema=PROPERTY)(update_property)
    router.route("DELETE", ITEM, status=204)(delete_property)
