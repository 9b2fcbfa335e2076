"""Compute API microversions: parse the request's version headers, check the range,
and echo the version on every response (errors included) with `Vary`.

Clients send `OpenStack-API-Version: compute 2.x` (preferred) or the legacy
`X-OpenStack-Nova-API-Version: 2.x`; none means the minimum, `latest` the maximum,
anything outside [MIN, MAX] is 406. Handlers test `version(req) >= (2, 47)`.

MAX is what we implement, with that version's response shapes: it must never be
raised without the shapes of every version up to it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

from starlette.responses import Response

from stackbox.api import errors
from stackbox.api.framework import Req

Version = tuple[int, int]
T = TypeVar("T")

MIN: Version = (2, 1)
MAX: Version = (2, 100)

_PATTERN = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")
VARY = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"


def render(v: Version) -> str:
    return f"{v[0]}.{v[1]}"


def parse(raw: str) -> Version:
    """'2.61' -> (2, 61); 'latest' -> MAX; 400 for garbage, 406 out of range."""
    raw = raw.strip()
    if raw.lower() == "latest":
        return MAX
    m = _PATTERN.match(raw)
    if m is None:
        raise errors.BadRequest(
            f"Invalid format for API version '{raw}'. It should be in the form MajorNum.MinorNum."
        )
    v = (int(m.group(1)), int(m.group(2)))
    if not (MIN <= v <= MAX):
        raise errors.NotAcceptable(
            f"Version {raw} is not supported by the API. Minimum is {render(MIN)} and "
            f"maximum is {render(MAX)}."
        )
    return v


def _from_headers(headers: object) -> str | None:
    get = headers.get  # type: ignore[attr-defined]
    value = get("openstack-api-version")
    if value:
        # "compute 2.61" (possibly among other services' entries, comma-separated)
        for part in value.split(","):
            words = part.strip().split()
            if len(words) == 2 and words[0].lower() == "compute":
                return str(words[1])
    legacy = get("x-openstack-nova-api-version")
    return str(legacy) if legacy else None


def prepare(req: Req) -> None:
    """Router hook: parse the version once and keep it on the request."""
    raw = _from_headers(req.headers)
    req.raw.state.microversion = MIN if raw is None else parse(raw)


def version(req: Req) -> Version:
    v: Version | None = getattr(req.raw.state, "microversion", None)
    return MIN if v is None else v


def pick(table: Sequence[tuple[Version, T]], mv: Version) -> T:
    """The value of the newest range in `table` ((first version, value) pairs, oldest
    first, the first at MIN) that starts at or below `mv`: how a handler chooses the
    schema constant of its microversion."""
    chosen = table[0][1]
    for since, value in table:
        if since <= mv:
            chosen = value
    return chosen


def decorate(req: Req | None, resp: Response) -> None:
    """Router hook: every response names its version (the request's, or the minimum
    when it could not be parsed) and varies on the version headers."""
    v = MIN
    if req is not None:
        v = getattr(req.raw.state, "microversion", MIN) or MIN
    text = render(v)
    resp.headers["OpenStack-API-Version"] = f"compute {text}"
    resp.headers["X-OpenStack-Nova-API-Version"] = text
    resp.headers["Vary"] = VARY
