"""GET /v2/info/import (the interoperable import methods) and /v2/info/stores."""

from __future__ import annotations

from stackbox.api.framework import Req, Router

IMPORT_METHODS = ["glance-direct"]


def register(router: Router) -> None:
    @router.route("GET", "/v2/info/import")
    async def import_info(req: Req) -> dict:
        return {
            "import-methods": {
                "description": "Import methods available.",
                "type": "array",
                "value": IMPORT_METHODS,
            }
        }

    @router.route("GET", "/v2/info/stores")
    async def stores_info(req: Req) -> dict:
        return {"stores": [{"id": "fs", "description": "Local file store", "default": True}]}
