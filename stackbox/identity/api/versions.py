"""Version discovery: GET /identity (300, all versions) and GET /identity/v3."""

from __future__ import annotations

from starlette.responses import JSONResponse

from stackbox.api.framework import Req, Router

UPDATED = "2020-04-07T00:00:00Z"
MEDIA = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]


def _v3(req: Req) -> dict:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{req.base_url}/v3/"}],
        "media-types": MEDIA,
    }


def register(router: Router) -> None:
    @router.route("GET", "/", auth=False)
    async def versions(req: Req) -> JSONResponse:
        return JSONResponse(
            {"versions": {"values": [_v3(req)]}},
            status_code=300,
            headers={"Location": f"{req.base_url}/v3/"},
        )

    @router.route("GET", "/v3", auth=False)
    async def v3(req: Req) -> dict:
        return {"version": _v3(req)}

    @router.route("GET", "/v3/", auth=False)
    async def v3_slash(req: Req) -> dict:
        return {"version": _v3(req)}
