"""Compute API microversions: find the requested version in the headers, check it, and
echo it on the response (errors included) with `Vary`. Reading the headers and anything
else that decides a request's version belongs here; what a version changes belongs to
the resource modules (handlers test `version(req) >= (2, 47)` or `pick` a schema).

The headers are read as Nova reads them (its microversion_parse call and
`APIVersionRequest`): `OpenStack-API-Version` holds comma-separated `<service> <version>`
entries, the last `compute` one counting (service name in any case); without one, the
last comma-separated value of the legacy `X-OpenStack-Nova-API-Version`, even empty.
Nothing found means the minimum; exactly `latest` the maximum; anything but `N.N` (no
leading zero in either part) is 400, naming no version; a well-formed version outside
[MIN, MAX] is 406, echoing the version asked for.

Which responses carry the version, as Nova: every one the compute API answers once the
token is accepted, errors included; none refused before (bad token, unknown path or
method), none with an unparsable version, and not the version list at GET /compute/
(Nova's root resource ignores the headers). On the legacy v2 mount (`legacy_v2.py`)
the headers are neither read nor echoed: every request there is 2.1.

MAX is what we implement, with that version's response shapes: it must never be
raised without the shapes of every version up to it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

from starlette.datastructures import Headers
from starlette.responses import Response

from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.compute.api import legacy_v2

Version = tuple[int, int]
T = TypeVar("T")

MIN: Version = (2, 1)
MAX: Version = (2, 100)

_PATTERN = re.compile(r"([1-9]\d*)\.([1-9]\d*|0)")
VARY = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
# Routes that neither read nor echo a version (Nova's version list).
UNVERSIONED = frozenset({"/"})


def render(v: Version) -> str:
    return f"{v[0]}.{v[1]}"


def requested(headers: Headers) -> str | None:
    """The compute version the headers ask for, unchecked (None: they ask for none)."""
    # Repeated headers count as one, their values joined by commas (as WSGI folds them).
    standard = ",".join(headers.getlist("openstack-api-version"))
    for entry in reversed(standard.split(",")):
        words = entry.strip().split(None, 1)
        if len(words) == 2 and words[0].lower() == "compute":
            return words[1].strip()
    legacy = headers.getlist("x-openstack-nova-api-version")
    if legacy:
        return ",".join(legacy).split(",")[-1].strip()
    return None


def parse(raw: str) -> Version:
    """'2.61' -> (2, 61); 'latest' -> MAX; 400 for anything else. The range is not checked."""
    if raw == "latest":
        return MAX
    m = _PATTERN.fullmatch(raw)
    if m is None:
        raise errors.BadRequest(
            f"API Version String {raw} is of invalid format. Must be of format MajorNum.MinorNum."
        )
    return int(m.group(1)), int(m.group(2))


def check(v: Version) -> None:
    """406 unless `v` is one we serve."""
    if not (MIN <= v <= MAX):
        raise errors.NotAcceptable(
            f"Version {render(v)} is not supported by the API. Minimum is {render(MIN)} and "
            f"maximum is {render(MAX)}."
        )


def prepare(req: Req) -> None:
    """Router hook: parse the version once and keep it on the request (also when it is
    out of range: the 406 names it, as Nova's does)."""
    if req.route.path in UNVERSIONED or legacy_v2.is_legacy(req.route.path):
        return  # `version` is then MIN, and `decorate` adds nothing
    raw = requested(req.headers)
    v = MIN if raw is None else parse(raw)
    req.raw.state.microversion = v
    check(v)


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
    """Router hook: name the version `prepare` found, and vary on the version headers.
    Nothing when there is none (refused before the compute API saw the request, an
    unparsable version, the version list)."""
    v: Version | None = None if req is None else getattr(req.raw.state, "microversion", None)
    if v is None:
        return
    text = render(v)
    resp.headers["OpenStack-API-Version"] = f"compute {text}"
    resp.headers["X-OpenStack-Nova-API-Version"] = text
    resp.headers["Vary"] = VARY
