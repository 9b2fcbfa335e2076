"""/v2/metadefs/namespaces[/{namespace}]: list (visibility and resource_types filters,
sort_key/sort_dir, limit/marker paging with Glance's first/next links), create (with
the contents the body holds), show (everything inside; `?resource_type=` renders the
property names with that resource type's prefix), update (a full replacement of the
namespace's own fields, as Glance's PUT) and delete (403 while protected)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import delete, false, func, select
from sqlalchemy.sql.elements import ColumnElement

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.db.base import utcnow
from stackbox.image import metadef_store as store
from stackbox.image.api import common
from stackbox.image.api import metadefs_common as mc
from stackbox.image.api.metadefs_schemas import NAMESPACE
from stackbox.image.metadef_models import (
    MetadefAssociation,
    MetadefNamespace,
    MetadefObject,
    MetadefProperty,
    MetadefResourceType,
    MetadefTag,
)

SORT_KEYS = (
    "namespace",
    "display_name",
    "visibility",
    "protected",
    "owner",
    "created_at",
    "updated_at",
)
CONTENT_RULES = (  # a body part → the policy its creation needs
    ("resource_type_associations", "add_metadef_resource_type_association"),
    ("objects", "add_metadef_object"),
    ("properties", "add_metadef_property"),
    ("tags", "add_metadef_tag"),
)


def _filters(req: Req) -> list[ColumnElement[bool]]:
    out = [mc.visible_clause(req.context)]
    vis = req.query.get("visibility")
    if vis:
        if vis not in ("public", "private"):
            raise errors.BadRequest(f"Invalid visibility value: {vis}")
        out.append(MetadefNamespace.visibility == vis)
    types = req.query.get("resource_types")
    if types:
        names = [n for n in types.split(",") if n]
        with_type = (
            select(MetadefAssociation.namespace_id)
            .join(
                MetadefResourceType, MetadefResourceType.id == MetadefAssociation.resource_type_id
            )
            .where(MetadefResourceType.name.in_(names))
        )
        out.append(MetadefNamespace.id.in_(with_type) if names else false())
    return out


def _sort_columns(req: Req) -> tuple[list[Any], bool]:
    key = req.query.get("sort_key", "created_at")
    direction = req.query.get("sort_dir", "desc")
    if key not in SORT_KEYS:
        raise errors.BadRequest(f"Invalid sort key: {key}")
    if direction not in ("asc", "desc"):
        raise errors.BadRequest(f"Invalid sort direction: {direction}")
    col = getattr(MetadefNamespace, key)
    if key == "display_name":
        col = func.coalesce(col, "")
    cols = [col] + [c for c in (MetadefNamespace.created_at, MetadefNamespace.id) if c is not col]
    return cols, direction == "asc"


def list_namespaces(req: Req) -> dict[str, Any]:
    ctx = req.context
    req.authorize("get_metadef_namespaces", {"project_id": ctx.project_id})
    req.authorize("list_metadef_resource_types", {"project_id": ctx.project_id})
    limit = common.page_limit(req)
    cols, asc = _sort_columns(req)
    q = select(MetadefNamespace).where(*_filters(req))
    marker = req.query.get("marker")
    if marker is not None:
        mark = mc.get_namespace(req, marker, "get_metadef_namespace")
        values = req.db.execute(select(*cols).where(MetadefNamespace.id == mark.id)).one()
        q = q.where(mc.after(cols, list(values), asc))
    q = q.order_by(*(c.asc() if asc else c.desc() for c in cols)).limit(limit)
    page = list(req.db.scalars(q))
    assocs = mc.associations(req.db, (ns.id for ns in page))
    items = []
    for ns in page:
        view = mc.namespace_view(ns)
        if assocs[ns.id]:
            view["resource_type_associations"] = assocs[ns.id]
        items.append(view)
    params = [(k, v) for k, v in req.query.multi_items() if k != "marker"]
    body: dict[str, Any] = {
        "namespaces": items,
        "first": "/v2/metadefs/namespaces" + (f"?{urlencode(params)}" if params else ""),
        "schema": "/v2/schemas/metadefs/namespaces",
    }
    if page and len(page) == limit:
        body["next"] = "/v2/metadefs/namespaces?" + urlencode(
            [*params, ("marker", page[-1].namespace)]
        )
    return body


def create_namespace(req: Req) -> tuple[dict[str, Any], int, dict[str, str]]:
    body = mc.check_writable(req.body)
    target = {"project_id": req.context.project_id}
    req.authorize("add_metadef_namespace", target)
    for part, rule in CONTENT_RULES:
        if body.get(part):
            req.authorize(rule, target)
    ns = store.create_namespace(req.db, body, req.context.project_id or "")
    view = mc.namespace_view(ns)
    # Glance answers with the contents as they were given (no timestamps or links).
    if body.get("resource_type_associations"):
        view["resource_type_associations"] = [
            {k: a[k] for k in ("name", "prefix", "properties_target") if k in a}
            for a in body["resource_type_associations"]
        ]
    if body.get("properties"):
        view["properties"] = store.property_schemas(body["properties"])
    if body.get("objects"):
        view["objects"] = [
            mc.compact(
                {
                    "name": o["name"],
                    "description": o.get("description"),
                    "required": o.get("required"),
                    "properties": store.property_schemas(o.get("properties")),
                }
            )
            for o in body["objects"]
        ]
    if body.get("tags"):
        view["tags"] = [{"name": t["name"]} for t in body["tags"]]
    return view, 201, {"Location": f"{req.base_url}{view['self']}"}


def show_namespace(req: Req) -> dict[str, Any]:
    ns = mc.get_namespace(req, req.params["namespace"], "get_metadef_namespace")
    for rule in (
        "list_metadef_resource_types",
        "get_metadef_objects",
        "get_metadef_properties",
        "get_metadef_tags",
    ):
        mc.authorize(req, rule, ns)
    s = req.db
    view = mc.namespace_view(ns)
    assocs = mc.associations(s, [ns.id])[ns.id]
    objs = s.scalars(
        select(MetadefObject)
        .where(MetadefObject.namespace_id == ns.id)
        .order_by(MetadefObject.name)
    )
    objects = [mc.object_view(ns.namespace, o) for o in objs]
    props = s.scalars(
        select(MetadefProperty)
        .where(MetadefProperty.namespace_id == ns.id)
        .order_by(MetadefProperty.name)
    )
    properties = {p.name: dict(p.json_schema) for p in props}
    tags = s.scalars(
        select(MetadefTag.name).where(MetadefTag.namespace_id == ns.id).order_by(MetadefTag.name)
    )
    prefix = next(
        (a.get("prefix") for a in assocs if a["name"] == req.query.get("resource_type")), None
    )
    if prefix:
        properties = mc.prefixed(properties, prefix)
        for o in objects:
            o["properties"] = mc.prefixed(o.get("properties", {}), prefix)
            if o.get("required"):
                o["required"] = [prefix + n for n in o["required"]]
    for key, value in (
        ("resource_type_associations", assocs),
        ("properties", properties),
        ("objects", objects),
        ("tags", [{"name": t} for t in tags]),
    ):
        if value:
            view[key] = value
    return view


def update_namespace(req: Req) -> dict[str, Any]:
    body = mc.check_writable(req.body)
    name = req.params["namespace"]
    ns = mc.get_namespace(req, name, "modify_metadef_namespace")
    new_name = body["namespace"]
    if new_name != ns.namespace:
        taken = req.db.scalar(
            select(MetadefNamespace.id).where(MetadefNamespace.namespace == new_name)
        )
        if taken is not None:
            raise errors.Conflict(
                "Invalid update. It would result in a duplicate metadata definition namespace "
                f"with the same name of {new_name}"
            )
    ns.namespace = new_name
    ns.display_name = body.get("display_name")
    ns.description = body.get("description")
    # Glance's PUT: the optional fields fall back to create's defaults when left out.
    ns.visibility = body.get("visibility") or "private"
    ns.protected = bool(body.get("protected", False))
    ns.owner = body.get("owner") or req.context.project_id or ns.owner
    ns.updated_at = utcnow()
    store.flush_or_conflict(req.db, f"The metadata definition namespace={new_name} exists.")
    return mc.namespace_view(ns)


def delete_namespace(req: Req) -> None:
    name = req.params["namespace"]
    ns = mc.get_namespace(req, name, "delete_metadef_namespace")
    mc.refuse_if_protected(ns, f"namespace {name}")
    for model in (MetadefTag, MetadefObject, MetadefProperty, MetadefAssociation):
        req.db.execute(delete(model).where(model.namespace_id == ns.id))
    req.db.delete(ns)


def register(router: Router) -> None:
    router.route("GET", "/v2/metadefs/namespaces")(list_namespaces)
    router.route("POST", "/v2/metadefs/namespaces", status=201, schema=NAMESPACE)(create_namespace)
    path = "/v2/metadefs/namespaces/{namespace}"
    router.route("GET", path)(show_namespace)
    router.route("PUT", path, schema=NAMESPACE)(update_namespace)
    router.route("DELETE", path, status=204)(delete_namespace)
