"""What the compute resource modules share: links in Nova's shape, timestamps, and the
`limit`/`marker` paging parameters."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from stackbox.api import errors
from stackbox.api.framework import Req


def links(req: Req, collection: str, ident: str) -> list[dict[str, str]]:
    """[self (versioned), bookmark (unversioned)] as Nova renders them."""
    base = req.base_url  # http://host:port/compute
    return [
        {"rel": "self", "href": f"{base}/v2.1/{collection}/{ident}"},
        {"rel": "bookmark", "href": f"{base}/{collection}/{ident}"},
    ]


def bookmark(req: Req, collection: str, ident: str) -> list[dict[str, str]]:
    return [{"rel": "bookmark", "href": f"{req.base_url}/{collection}/{ident}"}]


def iso(value: dt.datetime | None) -> str | None:
    """2026-11-23T20:58:15Z (Nova's `created`/`updated`)."""
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_us(value: dt.datetime | None) -> str | None:
    """2026-11-23T20:58:16.000000 (Nova's launched_at / instance-action times)."""
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def paging(req: Req, default: int = 1000) -> tuple[int, str | None]:
    """(limit, marker) from the query; 400 for a bad limit."""
    raw = req.query.get("limit")
    limit = default
    if raw is not None:
        try:
            limit = int(raw)
        except ValueError:
            raise errors.BadRequest(
                f"Invalid input for query parameters limit. Value: {raw}. Expected type integer."
            ) from None
        if limit < 0:
            raise errors.BadRequest("limit must be >= 0")
        limit = min(limit, default)
    return limit, req.query.get("marker")


def next_link(req: Req, collection: str, marker: str, limit: int) -> list[dict[str, str]]:
    return [
        {
            "rel": "next",
            "href": f"{req.base_url}/v2.1/{collection}?limit={limit}&marker={marker}",
        }
    ]


def next_link_keeping(req: Req, collection: str, marker: str) -> list[dict[str, str]]:
    """Nova's `<collection>_links` next link: the request's own query (filters, sort,
    limit) with `marker` replaced, under the versioned URL of `collection` (which may be
    a sub-path such as "flavors/detail")."""
    params = [(k, v) for k, v in req.query.multi_items() if k != "marker"]
    params.append(("marker", marker))
    return [{"rel": "next", "href": f"{req.base_url}/v2.1/{collection}?{urlencode(params)}"}]


def reject_unknown_query(req: Req, allowed: frozenset[str] | set[str]) -> None:
    """400 for a query parameter outside `allowed` (Nova's strict query schemas, 2.75+)."""
    extra = sorted(k for k in req.query if k not in allowed)
    if extra:
        names = ", ".join(repr(k) for k in extra)
        verb = "was" if len(extra) == 1 else "were"
        raise errors.BadRequest(
            "Invalid input for query parameters: Additional properties are not allowed "
            f"({names} {verb} unexpected)"
        )


def query_time(name: str, raw: str) -> dt.datetime:
    """A date-time query parameter (changes-since...) as naive UTC; 400 if malformed."""
    try:
        # a '+' of an unencoded offset arrives as a space
        value = dt.datetime.fromisoformat(raw.strip().replace(" ", "+").replace("Z", "+00:00"))
    except ValueError:
        raise errors.BadRequest(
            f"Invalid input for query parameters {name}. Value: {raw}. '{raw}' is not a 'date-time'"
        ) from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value
