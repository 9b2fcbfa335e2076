"""What the image resource modules share: the image view (Glance's JSON shape), the
visibility rules (who may see which image), lookups that answer 404 for what the caller
cannot see, policy targets, the per-process store and protections, and the import
progress properties."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CursorResult, and_, exists, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from stackbox.api import errors
from stackbox.api.context import RequestContext
from stackbox.api.framework import Req
from stackbox.api.policy import PolicyError
from stackbox.db.base import utcnow
from stackbox.image import protections as prot
from stackbox.image.models import Image, ImageMember, ImageProperty
from stackbox.image.store import ImageStore

STATUSES = (
    "queued",
    "saving",
    "active",
    "killed",
    "deleted",
    "uploading",
    "importing",
    "pending_delete",
    "deactivated",
)
VISIBILITIES = ("public", "private", "shared", "community")
# Attributes with their own columns, in the order Glance renders them.
CORE = (
    "name",
    "disk_format",
    "container_format",
    "visibility",
    "size",
    "virtual_size",
    "status",
    "checksum",
    "protected",
    "min_ram",
    "min_disk",
    "owner",
    "os_hidden",
    "os_hash_algo",
    "os_hash_value",
    "id",
    "created_at",
    "updated_at",
)
READ_ONLY = frozenset(
    {
        "id",
        "status",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "size",
        "virtual_size",
        "created_at",
        "updated_at",
        "self",
        "file",
        "schema",
        "direct_url",
        "stores",
        "tags",
        "locations",
    }
)
RESERVED = frozenset({"deleted", "deleted_at", "location"})
# Glance keeps every property whose name starts with this for itself (import locks and
# progress): clients may not create, change or remove one (403).
RESERVED_NAMESPACE = "os_glance"
DATA_STATUSES = ("active", "deactivated")
STORE = "fs"  # the one store, as GET /v2/info/stores lists it
# Glance's import progress (with stores): the stores an import is writing to, and the
# ones it failed on; clients such as Tempest's waiters read them.
IMPORTING_TO_STORES = "os_glance_importing_to_stores"
FAILED_IMPORT = "os_glance_failed_import"


def ts(value: dt.datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def not_found(image_id: str) -> errors.NotFound:
    return errors.NotFound(f"No image found with ID {image_id}")


def store(req: Req) -> ImageStore:
    st = req.state.extras.get("image.store")
    if st is None:
        st = req.state.extras["image.store"] = ImageStore(req.state.cfg.state_dir / "images")
        st.ensure()
    return st


def protections(req: Req) -> prot.Protections | None:
    """The property protection rules, loaded once (None when not configured)."""
    key = "image.protections"
    if key not in req.state.extras:
        path = req.state.cfg.get("image", "property_protection_file")
        fmt = req.state.cfg.get("image", "property_protection_rule_format")
        req.state.extras[key] = prot.load(path, fmt) if path else None
    return req.state.extras[key]


def prop_allowed(req: Req, name: str, op: str) -> bool:
    rules = protections(req)
    if rules is None:
        return True
    return rules.allowed(name, op, req.context.roles, lambda rule: _policy(req, rule))


def _policy(req: Req, rule: str) -> bool:
    """A policy rule named by the protections file; an unknown rule allows nothing."""
    try:
        return req.allowed(rule)
    except PolicyError:
        return False


def view(req: Req, img: Image) -> dict[str, Any]:
    """An image as Glance renders it: readable extra properties first, then the core
    attributes, tags and links."""
    out: dict[str, Any] = {}
    for name, value in sorted(img.extra.items()):
        if prop_allowed(req, name, "read"):
            out[name] = value
    for attr in CORE:
        out[attr] = getattr(img, attr)
    out["created_at"], out["updated_at"] = ts(img.created_at), ts(img.updated_at)
    out["tags"] = sorted(t.value for t in img.tags)
    out["self"] = f"/v2/images/{img.id}"
    out["file"] = f"/v2/images/{img.id}/file"
    out["schema"] = "/v2/schemas/image"
    if img.status in DATA_STATUSES:
        out["stores"] = STORE
    return out


def is_admin(ctx: RequestContext) -> bool:
    return ctx.is_admin


def visible_clause(ctx: RequestContext) -> ColumnElement[bool]:
    """Images `ctx` may GET: its own, public, community, and shared with its project
    (any member status)."""
    member = exists().where(
        and_(ImageMember.image_id == Image.id, ImageMember.member == ctx.project_id)
    )
    return or_(
        Image.owner == ctx.project_id,
        Image.visibility.in_(("public", "community")),
        and_(Image.visibility == "shared", member),
    )


def page_limit(req: Req) -> int:
    """?limit of the namespace and task lists: [image] limit_param_default when absent,
    at most [image] api_limit_max, 400 unless a non-negative integer."""
    cfg = req.state.cfg
    raw = req.query.get("limit")
    if raw is None:
        return min(cfg.get("image", "limit_param_default"), cfg.get("image", "api_limit_max"))
    try:
        value = int(raw)
    except ValueError:
        raise errors.BadRequest("limit param must be an integer") from None
    if value < 0:
        raise errors.BadRequest("limit param must be positive")
    return min(value, cfg.get("image", "api_limit_max"))


def member_of(s: Session, image_id: str, project_id: str | None) -> ImageMember | None:
    if project_id is None:
        return None
    return s.get(ImageMember, (image_id, project_id))


def get_image(req: Req, image_id: str, s: Session | None = None) -> Image:
    """The image, or 404 when it does not exist or the caller may not see it."""
    s = s if s is not None else req.db
    ctx = req.context
    q = select(Image).where(Image.id == image_id)
    if not is_admin(ctx):
        q = q.where(visible_clause(ctx))
    img = s.scalars(q).first()
    if img is None:
        raise not_found(image_id)
    return img


def target(req: Req, img: Image, s: Session | None = None) -> dict[str, Any]:
    """Policy target of an image: owner, the caller as member (if it is one)."""
    s = s if s is not None else req.db
    m = member_of(s, img.id, req.context.project_id)
    return {
        "project_id": img.owner,
        "member_id": m.member if m is not None else None,
        "visibility": img.visibility,
    }


def authorize(req: Req, action: str, img: Image, s: Session | None = None) -> None:
    if not req.allowed(action, target(req, img, s)):
        raise errors.Forbidden(f"You are not authorized to complete {action} action.")


def updated(s: Session, stmt: Any) -> int:
    """Run an UPDATE; the number of rows it changed."""
    result: CursorResult = s.execute(stmt)  # type: ignore[assignment]
    return result.rowcount


def touch(img: Image) -> None:
    img.updated_at = utcnow()


def import_progress(s: Session, image_id: str, importing: bool, failed: bool) -> None:
    """Set Glance's import progress properties of the image: whether the store is
    being imported to, whether an import to it failed (empty values when not)."""
    values = {
        IMPORTING_TO_STORES: STORE if importing else "",
        FAILED_IMPORT: STORE if failed else "",
    }
    for name, value in values.items():
        prop = s.get(ImageProperty, (image_id, name))
        if prop is None:
            s.add(ImageProperty(image_id=image_id, name=name, value=value))
        else:
            prop.value = value
