"""/v2/metadefs/namespaces/{namespace}/tags[/{tag_name}]: a namespace's tag
definitions. POST on the collection creates many (replacing the existing ones unless
`X-Openstack-Append: true`), DELETE on it removes them all; POST on a name creates that
one tag (no body), PUT renames it, DELETE removes it (403 while the namespace is
protected)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.db.base import utcnow
from stackbox.image import metadef_store as store
from stackbox.image.api import metadefs_common as mc
from stackbox.image.api.metadefs_schemas import TAG, TAGS_REQUEST
from stackbox.image.metadef_models import MetadefNamespace, MetadefTag

COLLECTION = "/v2/metadefs/namespaces/{namespace}/tags"
ITEM = COLLECTION + "/{tag_name}"
_TRUE = ("1", "t", "true", "on", "y", "yes")


def _get(req: Req, ns: MetadefNamespace, name: str) -> MetadefTag:
    tag = req.db.scalars(
        select(MetadefTag).where(MetadefTag.namespace_id == ns.id, MetadefTag.name == name)
    ).first()
    if tag is None:
        raise errors.NotFound(
            f"The metadata definition tag with name={name} was not found in "
            f"namespace={ns.namespace}."
        )
    return tag


def list_tags(req: Req) -> dict[str, Any]:
    ns = mc.get_namespace(req, req.params["namespace"], "get_metadef_tags")
    return {"tags": [{"name": t.name} for t in mc.paged(req, MetadefTag, ns)]}


def create_tags(req: Req) -> tuple[dict[str, Any], int]:
    body = req.body
    ns = mc.get_namespace(req, req.params["namespace"], "add_metadef_tags")
    names = [t["name"] for t in body.get("tags") or []]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise errors.Conflict(store.duplicate_tag(dup, ns.namespace))
    append = req.headers.get("X-Openstack-Append", "").strip().lower() in _TRUE
    if names and not append:
        req.db.execute(delete(MetadefTag).where(MetadefTag.namespace_id == ns.id))
    for name in names:
        store.add_tag(req.db, ns, name)
    return {"tags": [{"name": n} for n in names]}, 201


def delete_tags(req: Req) -> None:
    mc.delete_all(req, MetadefTag, "delete_metadef_tags")


def create_tag(req: Req) -> tuple[dict[str, Any], int]:
    name = req.params["tag_name"]
    if len(name) > 80:
        raise errors.BadRequest(f"Invalid tag name {name!r}: longer than 80 characters.")
    ns = mc.get_namespace(req, req.params["namespace"], "add_metadef_tag")
    return mc.tag_view(store.add_tag(req.db, ns, name)), 201


def show_tag(req: Req) -> dict[str, Any]:
    ns = mc.get_namespace(req, req.params["namespace"], "get_metadef_tag")
    return mc.tag_view(_get(req, ns, req.params["tag_name"]))


def update_tag(req: Req) -> dict[str, Any]:
    body = req.body
    for key in ("created_at", "updated_at"):
        if key in body:
            raise errors.Forbidden(f"Attribute '{key}' is read-only.")
    ns = mc.get_namespace(req, req.params["namespace"], "modify_metadef_tag")
    tag = _get(req, ns, req.params["tag_name"])
    tag.name = body["name"]
    tag.updated_at = utcnow()
    store.flush_or_conflict(req.db, store.duplicate_tag(tag.name, ns.namespace))
    return mc.tag_view(tag)


def delete_tag(req: Req) -> None:
    ns = mc.get_namespace(req, req.params["namespace"], "delete_metadef_tag")
    tag = _get(req, ns, req.params["tag_name"])
    mc.refuse_if_protected(ns, f"tag {tag.name}")
    req.db.delete(tag)


def register(router: Router) -> None:
    router.route("GET", COLLECTION)(list_tags)
    router.route("POST", COLLECTION, status=201, schema=TAGS_REQUEST)(create_tags)
    router.route("DELETE", COLLECTION, status=204)(delete_tags)
    router.route("GET", ITEM)(show_tag)
    router.route("POST", ITEM, status=201)(create_tag)
    router.route("PUT", ITEM, schema=TAG)(update_tag)
    router.route("DELETE", ITEM, status=204)(delete_tag)
