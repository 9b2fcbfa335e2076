"""GET /v2/images: visibility, filters, sorting and marker pagination with Glance's
`first`/`next`/`schema` links (`next` is `/v2/images?…&marker=<id>`, without the
/image prefix: clients strip a leading version segment and append it to the
endpoint).

`page(req, q)` runs one list for any set of Glance query parameters `q`: the API
handler passes the request's query, the internal client (`stackbox/image/client.py`)
the parameters another service asks for."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import and_, exists, false, or_, select
from sqlalchemy.sql.elements import ColumnElement
from starlette.datastructures import QueryParams

from stackbox.api import errors
from stackbox.api.framework import Req, query_bool
from stackbox.image.api import common
from stackbox.image.models import Image, ImageMember, ImageProperty, ImageTag

SORT_KEYS = (
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "virtual_size",
    "id",
    "created_at",
    "updated_at",
    "visibility",
    "owner",
    "min_disk",
    "min_ram",
)
IN_FILTERS = ("id", "name", "status", "disk_format", "container_format", "owner")
TIME_OPS = {
    "eq": "__eq__",
    "neq": "__ne__",
    "gt": "__gt__",
    "gte": "__ge__",
    "lt": "__lt__",
    "lte": "__le__",
}
CONTROL = {"limit", "marker", "sort_key", "sort_dir", "sort", "visibility", "member_status"}
SPECIAL = {"tag", "size_min", "size_max", "protected", "os_hidden", "created_at", "updated_at"}
# Other columns Glance compares with `==` rather than taking them for extra properties.
INT_COLUMNS = ("min_ram", "min_disk")
MEMBER_STATUSES = ("pending", "accepted", "rejected", "all")


def _int(q: QueryParams, name: str) -> int | None:
    raw = q.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise errors.BadRequest(f"Invalid value for {name}: {raw!r} is not an integer.") from None
    if value < 0:
        raise errors.BadRequest(f"Invalid value for {name}: it must be >= 0.")
    return value


def _visibility(req: Req, q: QueryParams) -> ColumnElement[bool]:
    ctx = req.context
    vis = q.get("visibility")
    if vis is not None and vis not in (*common.VISIBILITIES, "all"):
        raise errors.BadRequest(f"Invalid visibility value: {vis}")
    status = q.get("member_status", "accepted")
    if status not in MEMBER_STATUSES:
        raise errors.BadRequest(f"Invalid member_status value: {status}")
    cond = [ImageMember.image_id == Image.id, ImageMember.member == ctx.project_id]
    if status != "all":
        cond.append(ImageMember.status == status)
    shared_with_me = and_(Image.visibility == "shared", exists().where(and_(*cond)))
    mine = Image.owner == ctx.project_id
    admin = ctx.is_admin
    if vis == "public":
        return Image.visibility == "public"
    if vis == "community":
        return Image.visibility == "community"
    if vis == "private":
        return and_(Image.visibility == "private", or_(mine, _admin_all(admin)))
    if vis == "shared":
        return and_(Image.visibility == "shared", or_(mine, shared_with_me, _admin_all(admin)))
    default = or_(mine, Image.visibility == "public", shared_with_me)
    if admin:
        default = or_(default, Image.visibility.in_(("private", "shared")))
    if vis == "all":
        return or_(default, Image.visibility == "community")
    return default


def _admin_all(admin: bool) -> ColumnElement[bool]:
    return Image.id.isnot(None) if admin else false()


def _filters(req: Req, q: QueryParams) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = [_visibility(req, q)]
    for name in IN_FILTERS:
        raw = q.get(name)
        if raw is None:
            continue
        col = getattr(Image, name)
        out.append(col.in_(raw[3:].split(",")) if raw.startswith("in:") else col == raw)
    for tag in q.getlist("tag"):
        out.append(exists().where(and_(ImageTag.image_id == Image.id, ImageTag.value == tag)))
    size_min, size_max = _int(q, "size_min"), _int(q, "size_max")
    if size_min is not None:
        out.append(Image.size >= size_min)
    if size_max is not None:
        out.append(Image.size <= size_max)
    for name in INT_COLUMNS:
        number = _int(q, name)
        if number is not None:
            out.append(getattr(Image, name) == number)
    protected = query_bool(q, "protected")
    if protected is not None:
        out.append(Image.protected.is_(protected))
    hidden = query_bool(q, "os_hidden")
    out.append(Image.os_hidden.is_(bool(hidden)))
    for name in ("created_at", "updated_at"):
        raw = q.get(name)
        if raw is not None:
            out.append(_time_filter(getattr(Image, name), name, raw))
    for key, value in q.multi_items():
        if key in CONTROL or key in SPECIAL or key in IN_FILTERS or key in INT_COLUMNS:
            continue
        out.append(
            exists().where(
                and_(
                    ImageProperty.image_id == Image.id,
                    ImageProperty.name == key,
                    ImageProperty.value == value,
                )
            )
        )
    return out


def _time_filter(col: Any, name: str, raw: str) -> ColumnElement[bool]:
    op, _, text = raw.partition(":") if ":" in raw.split("T")[0] else ("eq", "", raw)
    if op not in TIME_OPS:
        raise errors.BadRequest(f"Invalid operator {op!r} for {name}.")
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise errors.BadRequest(f"Invalid time {text!r} for {name}.") from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return getattr(col, TIME_OPS[op])(when)


def _sorting(q: QueryParams) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    if "sort" in q:
        if "sort_key" in q or "sort_dir" in q:
            raise errors.BadRequest("The 'sort' parameter can't be used with sort_key/sort_dir.")
        for part in q["sort"].split(","):
            key, _, direction = part.strip().partition(":")
            keys.append((key, direction or "desc"))
    else:
        names = q.getlist("sort_key") or ["created_at"]
        dirs = q.getlist("sort_dir") or ["desc"]
        if len(dirs) not in (1, len(names)):
            raise errors.BadRequest("Give one sort_dir, or one per sort_key.")
        keys = [(k, dirs[i] if len(dirs) > 1 else dirs[0]) for i, k in enumerate(names)]
    for key, direction in keys:
        if key not in SORT_KEYS:
            raise errors.BadRequest(f"Invalid sort key: {key}.")
        if direction not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid sort direction: {direction}.")
    if "id" not in {k for k, _ in keys}:
        keys.append(("id", keys[-1][1]))
    return keys


def _comparator(keys: list[tuple[str, str]]) -> Any:
    def cmp(a: Any, b: Any) -> int:
        for i, (_, direction) in enumerate(keys):
            x, y = a[i + 1], b[i + 1]
            if x == y:
                continue
            r = -1 if x is None or (y is not None and x < y) else 1
            return r if direction == "asc" else -r
        return 0

    return functools.cmp_to_key(cmp)


def list_images(req: Req) -> dict:
    req.authorize("get_images", {"project_id": req.context.project_id})
    q = req.query
    page_imgs, limit = page(req, q)
    images = [common.view(req, img) for img in page_imgs]
    params = [(k, v) for k, v in q.multi_items() if k != "marker"]
    body: dict[str, Any] = {"images": images}
    body["first"] = "/v2/images" + (f"?{urlencode(params)}" if params else "")
    body["schema"] = "/v2/schemas/images"
    if images and len(images) == limit:
        body["next"] = "/v2/images?" + urlencode([*params, ("marker", page_imgs[-1].id)])
    return body


def page(req: Req, q: QueryParams) -> tuple[list[Image], int]:
    """One page of the images the caller may list that match `q` (Glance's filters,
    sorting, `limit` and `marker`), in order, with the page size used. No policy check:
    the caller authorizes `get_images`."""
    cfg = req.state.cfg
    limit = _int(q, "limit")
    limit = cfg.get("image", "limit_param_default") if limit is None else limit
    limit = min(limit, cfg.get("image", "api_limit_max"))
    keys = _sorting(q)
    cols = [Image.id, *(getattr(Image, k) for k, _ in keys)]
    rows = [tuple(r) for r in req.db.execute(select(*cols).where(*_filters(req, q)))]
    sort_key = _comparator(keys)
    rows.sort(key=sort_key)
    start = 0
    marker = q.get("marker")
    if marker is not None:
        start = _after_marker(req, rows, cols, marker, sort_key)
    page_ids = [r[0] for r in rows[start : start + limit]]
    by_id = {
        i.id: i for i in req.db.scalars(select(Image).where(Image.id.in_(page_ids))) if page_ids
    }
    return [by_id[i] for i in page_ids if i in by_id], limit


def _after_marker(req: Req, rows: list[tuple], cols: list, marker: str, sort_key: Any) -> int:
    for i, r in enumerate(rows):
        if r[0] == marker:
            return i + 1
    ctx = req.context
    q = select(*cols).where(Image.id == marker)
    if not ctx.is_admin:
        q = q.where(common.visible_clause(ctx))
    found = req.db.execute(q).first()
    if found is None:
        raise errors.BadRequest(f"Invalid marker. Image {marker} could not be found.")
    mk = sort_key(tuple(found))
    return next((i for i, r in enumerate(rows) if sort_key(r) > mk), len(rows))
