"""Compute version discovery, open to everyone (no token): GET /compute/ lists the one
API version we serve (v2.1, microversions 2.1 to `microversion.MAX`); GET /compute/v2.1
and /compute/v2.1/ describe it with its media type. Hrefs are absolute and carry the
/compute prefix, as keystoneauth follows them."""

from __future__ import annotations

from typing import Any

from stackbox.api.framework import Req, Router
from stackbox.compute.api import microversion

UPDATED = "2013-07-23T11:33:21Z"


def _entry(req: Req) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": microversion.render(microversion.MAX),
        "min_version": microversion.render(microversion.MIN),
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{req.base_url}/v2.1/"}],
    }


def register(router: Router) -> None:
    @router.route("GET", "/", auth=False)
    async def root(req: Req) -> dict:
        return {"versions": [_entry(req)]}

    async def v21(req: Req) -> dict:
        entry = _entry(req)
        entry["links"].append(
            {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}
        )
        entry["media-types"] = [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ]
        return {"version": entry}

    for path in ("/v2.1", "/v2.1/"):
        router.route("GET", path, auth=False)(v21)
