"""Helpers the identity resource modules share: links, list envelopes, filters,
and the `identity` error messages Keystone uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Select

from stackbox.api import errors
from stackbox.api.framework import Req


def v3_url(req: Req, path: str = "") -> str:
    return f"{req.base_url}/v3{path}"


def self_link(req: Req, collection: str, rid: str) -> dict:
    return {"self": v3_url(req, f"/{collection}/{rid}")}


def collection(req: Req, name: str, items: Iterable[dict], path: str | None = None) -> dict:
    return {name: list(items), "links": {"next": None, "self": v3_url(req, path or f"/{name}"),
                                         "previous": None}}


def not_found(kind: str, rid: str) -> errors.NotFound:
    return errors.NotFound(f"Could not find {kind}: {rid}.")


def conflict(kind: str, field: str, value: str) -> errors.Conflict:
    return errors.Conflict(f"Conflict occurred attempting to store {kind} - Duplicate entry "
                           f"found with {field} {value}.")


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


def update_fields(row: Any, data: dict, fields: Iterable[str],
                  convert: Callable[[str, Any], Any] | None = None) -> None:
    for f in fields:
        if f in data:
            setattr(row, f, convert(f, data[f]) if convert else data[f])
