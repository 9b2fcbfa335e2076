"""What the metadefs resource modules share: the policy rules (Glance's defaults), who
sees which namespace, the lookups that answer 404 for what the caller cannot see, the
JSON views (fields Glance leaves unset are left out, as its serializer does) and the
resource-type prefix applied to property names.

Visibility: an admin sees every namespace; anyone else sees the public ones and those
their project owns. Writing is admin-only by default (`metadef_admin`), and a protected
namespace refuses to lose anything (403) until it is unprotected."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, delete, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from stackbox.api import errors
from stackbox.api.context import RequestContext
from stackbox.api.framework import Req
from stackbox.image.metadef_models import (
    MetadefAssociation,
    MetadefNamespace,
    MetadefObject,
    MetadefProperty,
    MetadefResourceType,
    MetadefTag,
)

ADMIN = "role:admin"
READER = f"{ADMIN} or role:reader"  # which namespaces: `visible_clause`
WRITER = "rule:metadef_admin"
RULES: dict[str, str] = {
    "metadef_default": "",
    "metadef_admin": ADMIN,
    "get_metadef_namespaces": f"{ADMIN} or (role:reader and project_id:%(project_id)s)",
    "get_metadef_namespace": READER,
    "add_metadef_namespace": WRITER,
    "modify_metadef_namespace": WRITER,
    "delete_metadef_namespace": WRITER,
    "get_metadef_object": READER,
    "get_metadef_objects": READER,
    "add_metadef_object": WRITER,
    "modify_metadef_object": WRITER,
    "delete_metadef_object": WRITER,
    "list_metadef_resource_types": READER,
    "get_metadef_resource_type": READER,
    "add_metadef_resource_type_association": WRITER,
    "remove_metadef_resource_type_association": WRITER,
    "get_metadef_property": READER,
    "get_metadef_properties": READER,
    "add_metadef_property": WRITER,
    "modify_metadef_property": WRITER,
    "remove_metadef_property": WRITER,
    "get_metadef_tag": READER,
    "get_metadef_tags": READER,
    "add_metadef_tag": WRITER,
    "add_metadef_tags": WRITER,
    "modify_metadef_tag": WRITER,
    "delete_metadef_tag": WRITER,
    "delete_metadef_tags": WRITER,
}
NS_SCHEMA = "/v2/schemas/metadefs/namespace"
OBJ_SCHEMA = "/v2/schemas/metadefs/object"
# Fields of the request bodies that only the server sets (Glance: 403, not 400).
READ_ONLY = ("self", "schema", "created_at", "updated_at")


def ts(value: dt.datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def compact(body: dict[str, Any]) -> dict[str, Any]:
    """`body` without its None values (Glance's serializer omits unset fields)."""
    return {k: v for k, v in body.items() if v is not None}


def visible_clause(ctx: RequestContext) -> ColumnElement[bool]:
    if ctx.is_admin:
        return true()
    return or_(MetadefNamespace.owner == ctx.project_id, MetadefNamespace.visibility == "public")


def ns_not_found(name: str) -> errors.NotFound:
    return errors.NotFound(f"Metadata definition namespace={name} was not found.")


def get_namespace(req: Req, name: str, action: str) -> MetadefNamespace:
    """The namespace named `name` if the caller sees it (else 404), once policy allows
    `action` on it (else 403)."""
    ns = req.db.scalars(
        select(MetadefNamespace).where(
            MetadefNamespace.namespace == name, visible_clause(req.context)
        )
    ).first()
    if ns is None:
        raise ns_not_found(name)
    authorize(req, action, ns)
    return ns


def target(ns: MetadefNamespace) -> dict[str, Any]:
    """Policy target of a namespace (and of everything in it)."""
    return {"project_id": ns.owner, "visibility": ns.visibility}


def authorize(req: Req, action: str, ns: MetadefNamespace) -> None:
    req.authorize(action, target(ns))


def check_writable(body: Any) -> dict[str, Any]:
    """The request body as a dict, refusing the server-set fields with Glance's 403."""
    if not isinstance(body, dict):
        raise errors.BadRequest("Body expected in request.")
    for key in READ_ONLY:
        if key in body:
            raise errors.Forbidden(f"Attribute '{key}' is read-only.")
    return body


def refuse_if_protected(ns: MetadefNamespace, what: str) -> None:
    """403 when `ns` is protected: its contents and itself cannot be deleted."""
    if ns.protected:
        raise errors.Forbidden(f"Metadata definition {what} is protected and cannot be deleted.")


def delete_all(
    req: Req,
    model: type[MetadefObject] | type[MetadefProperty] | type[MetadefTag],
    action: str | None = None,
) -> None:
    """DELETE of a namespace's whole collection of objects, properties or tags: the
    namespace delete rule (and `action`, when the collection has its own), 403 while the
    namespace is protected."""
    name = req.params["namespace"]
    ns = get_namespace(req, name, "delete_metadef_namespace")
    if action is not None:
        authorize(req, action, ns)
    refuse_if_protected(ns, f"namespace {name}")
    req.db.execute(delete(model).where(model.namespace_id == ns.id))


def namespace_view(ns: MetadefNamespace) -> dict[str, Any]:
    return compact(
        {
            "namespace": ns.namespace,
            "display_name": ns.display_name,
            "description": ns.description,
            "visibility": ns.visibility,
            "protected": ns.protected,
            "owner": ns.owner,
            "created_at": ts(ns.created_at),
            "updated_at": ts(ns.updated_at),
            "self": f"/v2/metadefs/namespaces/{ns.namespace}",
            "schema": NS_SCHEMA,
        }
    )


def object_view(ns_name: str, obj: MetadefObject) -> dict[str, Any]:
    return compact(
        {
            "name": obj.name,
            "description": obj.description,
            "required": list(obj.required or []),
            "properties": dict(obj.properties or {}),
            "created_at": ts(obj.created_at),
            "updated_at": ts(obj.updated_at),
            "self": f"/v2/metadefs/namespaces/{ns_name}/objects/{obj.name}",
            "schema": OBJ_SCHEMA,
        }
    )


def association_view(assoc: MetadefAssociation, type_name: str) -> dict[str, Any]:
    return compact(
        {
            "name": type_name,
            "prefix": assoc.prefix,
            "properties_target": assoc.properties_target,
            "created_at": ts(assoc.created_at),
            "updated_at": ts(assoc.updated_at),
        }
    )


def tag_view(tag: MetadefTag) -> dict[str, Any]:
    return {"name": tag.name, "created_at": ts(tag.created_at), "updated_at": ts(tag.updated_at)}


def associations(s: Session, ns_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Each namespace's resource type associations, rendered, by namespace id."""
    ids = list(ns_ids)
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = s.execute(
        select(MetadefAssociation, MetadefResourceType.name)
        .join(MetadefResourceType, MetadefResourceType.id == MetadefAssociation.resource_type_id)
        .where(MetadefAssociation.namespace_id.in_(ids))
        .order_by(MetadefResourceType.name)
    )
    for assoc, name in rows:
        out[assoc.namespace_id].append(association_view(assoc, name))
    return out


def prefixed(props: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {prefix + name: value for name, value in props.items()}


def after(cols: list[Any], values: list[Any], asc: bool) -> ColumnElement[bool]:
    """Rows strictly after `values` in the (single-direction) order of `cols`."""
    terms = []
    for i, col in enumerate(cols):
        equal = [cols[j] == values[j] for j in range(i)]
        terms.append(and_(*equal, col > values[i] if asc else col < values[i]))
    return or_(*terms)


def positive_limit(req: Req) -> int | None:
    """?limit of the object and tag lists (none: everything), 400 unless > 0."""
    raw = req.query.get("limit")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise errors.BadRequest("limit param must be an integer") from None
    if value <= 0:
        raise errors.BadRequest("limit param must be positive")
    return min(value, req.state.cfg.get("image", "api_limit_max"))


def paged(req: Req, model: type[MetadefObject] | type[MetadefTag], ns: MetadefNamespace) -> Any:
    """The objects or tags of `ns` as Glance lists them: sort_key (name, created_at,
    updated_at; default created_at) and sort_dir (default desc), from after ?marker (a
    name; 404 when it is not there), at most ?limit."""
    key = req.query.get("sort_key", "created_at")
    direction = req.query.get("sort_dir", "desc")
    if key not in ("name", "created_at", "updated_at"):
        raise errors.BadRequest(f"Invalid sort key: {key}")
    if direction not in ("asc", "desc"):
        raise errors.BadRequest(f"Invalid sort direction: {direction}")
    asc = direction == "asc"
    cols = [getattr(model, key), model.id]
    q = select(model).where(model.namespace_id == ns.id)
    marker = req.query.get("marker")
    if marker:
        values = req.db.execute(
            select(*cols).where(model.namespace_id == ns.id, model.name == marker)
        ).first()
        if values is None:
            raise errors.NotFound(f"Marker {marker} was not found in namespace={ns.namespace}.")
        q = q.where(after(cols, list(values), asc))
    q = q.order_by(*(c.asc() if asc else c.desc() for c in cols))
    limit = positive_limit(req)
    return req.db.scalars(q if limit is None else q.limit(limit))
