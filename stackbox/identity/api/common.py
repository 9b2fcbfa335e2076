"""Helpers the identity resource modules share: links, list envelopes, filters,
and the `identity` error messages Keystone uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute

from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.identity.models import Project


def v3_url(req: Req, path: str = "") -> str:
    return f"{req.base_url}/v3{path}"


def self_link(req: Req, collection: str, rid: str) -> dict:
    return {"self": v3_url(req, f"/{collection}/{rid}")}


def collection(req: Req, name: str, items: Iterable[dict], path: str | None = None) -> dict:
    return {
        name: list(items),
        "links": {"next": None, "self": v3_url(req, path or f"/{name}"), "previous": None},
    }


def not_found(kind: str, rid: str) -> errors.NotFound:
    return errors.NotFound(f"Could not find {kind}: {rid}.")


def conflict(kind: str, field: str, value: str) -> errors.Conflict:
    return errors.Conflict(
        f"Conflict occurred attempting to store {kind} - Duplicate entry "
        f"found with {field} {value}."
    )


def apply_filters(req: Req, q: Select, columns: dict[str, Any]) -> Select:
    """Exact-match query filters (`?name=x&enabled=true`), Keystone-style: unknown
    query parameters are ignored."""
    for key, column in columns.items():
        value = req.query.get(key)
        if value is None:
            continue
        if key == "enabled" or key.endswith("is_domain"):
            b = req.query_bool(key)
            q = q.where(column.is_(b))
        else:
            q = q.where(column == value)
    return q


def require_obj(body: Any, key: str) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise errors.BadRequest(f"Invalid input: '{key}' is a required property.")
    return body[key]


def update_fields(
    row: Any, data: dict, fields: Iterable[str], convert: Callable[[str, Any], Any] | None = None
) -> None:
    for f in fields:
        if f in data:
            setattr(row, f, convert(f, data[f]) if convert else data[f])


# Additions for the CRUD resource modules ------------------------------------------------

DEFAULT_DOMAIN_ID = "default"

# JSON schema fragments shared by the request bodies (Keystone's parameter types).
NAME_64 = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"[\S]+"}
NAME_255 = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"[\S]+"}
NULLABLE_STR = {"type": ["string", "null"]}
ID_STR = {"type": "string", "minLength": 1, "maxLength": 64}
NULLABLE_ID = {"type": ["string", "null"], "maxLength": 64}
BOOL = {"type": "boolean"}
TAG = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^,/]*$"}
TAGS = {"type": "array", "items": TAG, "maxItems": 80, "uniqueItems": True}


def body_schema(key: str, properties: dict, required: tuple[str, ...] = ()) -> dict:
    """`{"<key>": {...}}` with the given properties; unknown keys are allowed (Keystone
    keeps them as extra attributes)."""
    inner: dict = {"type": "object", "properties": properties}
    if required:
        inner["required"] = list(required)
    return {"type": "object", "required": [key], "properties": {key: inner}}


def get_or_404(req: Req, model: type, kind: str, rid: str) -> Any:
    row = req.db.get(model, rid)
    if row is None:
        raise not_found(kind, rid)
    return row


def extras(data: dict, known: Iterable[str]) -> dict:
    """The attributes of a request body the model has no column for (kept as extra)."""
    skip = {*known, "id", "links"}
    return {k: v for k, v in data.items() if k not in skip}


def flush_or_conflict(req: Req, error: Callable[[], errors.ApiError]) -> None:
    """Flush pending rows; a unique constraint violation becomes `error()` (409)."""
    try:
        req.db.flush()
    except IntegrityError:
        raise error() from None


def links_for(req: Req, path: str) -> dict:
    return {"next": None, "self": v3_url(req, path), "previous": None}


def descendant_ids(s: Any, parent_ids: Iterable[str]) -> list[str]:
    """Ids of every project below the given projects (or domains), breadth first."""
    out: list[str] = []
    seen = set(parent_ids)
    todo = list(seen)
    while todo:
        children = list(s.scalars(select(Project.id).where(Project.parent_id.in_(todo))))
        todo = [c for c in children if c not in seen]
        seen.update(todo)
        out.extend(todo)
    return out


# Paging ---------------------------------------------------------------------------------

# Keystone's `max_db_limit` default: no page is bigger, whatever `limit` asks for.
MAX_DB_LIMIT = 1000


def paginate(req: Req, q: Select, id_col: InstrumentedAttribute) -> tuple[Select, int | None]:
    """Keystone's marker/limit paging (it has it for projects, domains, users and
    groups): with `limit` or `marker` the rows come ordered by id, after the marker's
    id, at most `limit` of them (capped at MAX_DB_LIMIT; 0 means no limit). Returns the
    query and the page size a full page has (None when no `limit` was asked)."""
    raw_limit, marker = req.query.get("limit"), req.query.get("marker")
    if raw_limit is None and not marker:
        return q, None
    limit = 0
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            limit = -1
        if limit < 0:
            raise errors.BadRequest(f"Invalid value for limit: {raw_limit!r}.")
    if marker:
        if req.db.scalar(select(id_col).where(id_col == marker)) is None:
            raise errors.NotFound(f"Marker {marker} could not be found.")
        q = q.where(id_col > marker)
    size = min(limit, MAX_DB_LIMIT) if limit else MAX_DB_LIMIT
    return q.order_by(None).order_by(id_col).limit(size), (size if limit else None)


def paged(
    req: Req, name: str, items: list[dict], page_size: int | None, path: str | None = None
) -> dict:
    """A list envelope; a full page (Keystone cannot know if more follow) says
    `truncated` and links the next page (marker = the page's last id)."""
    body = collection(req, name, items, path)
    if page_size and len(items) >= page_size:
        args = {**dict(req.query), "marker": items[-1]["id"], "limit": str(page_size)}
        body["links"]["next"] = v3_url(req, path or f"/{name}") + "?" + urlencode(args)
        body["truncated"] = True
    return body
