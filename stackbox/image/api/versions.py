"""Version discovery: GET /image, /image/ (300 with every v2.x), /image/versions (200),
and /image/v2, /image/v2/ (the same list, as Glance's version negotiation answers a
request naming only the version)."""

from __future__ import annotations

from starlette.responses import JSONResponse

from stackbox.api.framework import Req, Router

# Glance 33's list, in its order; v2.17 is CURRENT.
VERSIONS = (
    "v2.15",
    "v2.13",
    "v2.12",
    "v2.11",
    "v2.10",
    "v2.9",
    "v2.8",
    "v2.17",
    "v2.7",
    "v2.6",
    "v2.5",
    "v2.4",
    "v2.3",
    "v2.2",
    "v2.1",
    "v2.0",
)
CURRENT = "v2.17"


def versions_body(req: Req) -> dict:
    href = f"{req.base_url}/v2/"
    return {
        "versions": [
            {
                "id": v,
                "status": "CURRENT" if v == CURRENT else "SUPPORTED",
                "links": [{"rel": "self", "href": href}],
            }
            for v in VERSIONS
        ]
    }


def register(router: Router) -> None:
    async def choices(req: Req) -> JSONResponse:
        return JSONResponse(versions_body(req), status_code=300)

    for path in ("/", "/v2", "/v2/"):
        router.route("GET", path, auth=False)(choices)

    @router.route("GET", "/versions", auth=False)
    async def explicit(req: Req) -> dict:
        return versions_body(req)
