"""Compute version discovery, open to everyone (no token), as Nova 34 answers it.

GET /compute/ lists two versions, v2.0 first: v2.0, the legacy v2 API (DEPRECATED, no
microversions: `version` and `min_version` are ""), and v2.1 (CURRENT, microversions
2.1 to `microversion.MAX`). Each one's document, with its media type, is at its self
link: /compute/v2/ (also /compute/v2) describes v2.0 and is served by the legacy mount
(`legacy_v2.py`), /compute/v2.1/ (also /compute/v2.1) describes v2.1. Hrefs are
absolute and carry the /compute prefix, as keystoneauth follows them. The catalog
names /compute/v2.1.
"""

from __future__ import annotations

import copy
from typing import Any

from stackbox.api.framework import Req, Router
from stackbox.compute.api import microversion

DESCRIBED_BY = {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}

# id -> (path segment, the document without its self link), in listing order.
VERSIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "v2.0": (
        "v2",
        {
            "id": "v2.0",
            "status": "DEPRECATED",
            "version": "",
            "min_version": "",
            "updated": "2025-07-04T12:00:00Z",
            "links": [DESCRIBED_BY],
            "media-types": [
                {
                    "base": "application/json",
                    "type": "application/vnd.openstack.compute+json;version=2",
                }
            ],
        },
    ),
    "v2.1": (
        "v2.1",
        {
            "id": "v2.1",
            "status": "CURRENT",
            "version": microversion.render(microversion.MAX),
            "min_version": microversion.render(microversion.MIN),
            "updated": "2013-07-23T11:33:21Z",
            "links": [DESCRIBED_BY],
            "media-types": [
                {
                    "base": "application/json",
                    "type": "application/vnd.openstack.compute+json;version=2.1",
                }
            ],
        },
    ),
}
_LISTED = ("id", "status", "version", "min_version", "updated")


def _self(req: Req, vid: str) -> dict[str, str]:
    return {"rel": "self", "href": f"{req.base_url}/{VERSIONS[vid][0]}/"}


def listing(req: Req) -> dict[str, Any]:
    """The version list: each version's summary and its self link only."""
    out = []
    for vid, (_segment, doc) in VERSIONS.items():
        entry = {k: doc[k] for k in _LISTED}
        entry["links"] = [_self(req, vid)]
        out.append(entry)
    return {"versions": out}


def document(req: Req, vid: str) -> dict[str, Any]:
    """One version's document: its self link first, then the rest of it."""
    doc = copy.deepcopy(VERSIONS[vid][1])
    doc["links"].insert(0, _self(req, vid))
    return {"version": doc}


def register(router: Router) -> None:
    @router.route("GET", "/", auth=False)
    async def root(req: Req) -> dict:
        return listing(req)

    async def v20(req: Req) -> dict:
        return document(req, "v2.0")

    async def v21(req: Req) -> dict:
        return document(req, "v2.1")

    for vid, handler in (("v2.0", v20), ("v2.1", v21)):
        segment = VERSIONS[vid][0]
        for path in (f"/{segment}", f"/{segment}/"):
            router.route("GET", path, auth=False)(handler)
