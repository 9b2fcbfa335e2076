"""GET /v2/info/import (the interoperable import methods) and /v2/info/stores."""

from __future__ import annotations

from stackbox.api.framework import Req, Router
from stackbox.image.api import common, imports

IMPORT_METHODS = list(imports.METHODS)


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
        return {
            "stores": [{"id": common.STORE, "description": "Local file store", "default": True}]
        }
