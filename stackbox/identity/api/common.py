"""Helpers the identity resource modules share: links, list envelopes, filters,
and the `identity` error messages Keystone uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

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
