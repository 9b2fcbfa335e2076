"""Extensions (anyone with a token): GET /v2.1/extensions lists Nova's fixed extension
records (`extension_list.py`), GET /v2.1/extensions/{alias} shows one (404 for an
unknown alias). Each record has name, alias, description, namespace, updated and
(empty) links, as Nova's. On the legacy v2 mount (`legacy_v2.py`) the list also has
the records only v2 had, as in Nova.
"""

from __future__ import annotations

from typing import Any

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.compute.api import extension_list, legacy_v2

NAMESPACE = "http://docs.openstack.org/compute/ext/fake_xml"
UPDATED = "2014-12-03T00:00:00Z"


def _record(alias: str, name: str, description: str) -> dict[str, Any]:
    return {
        "alias": alias,
        "description": description,
        "links": [],
        "name": name,
        "namespace": NAMESPACE,
        "updated": UPDATED,
    }


V21: tuple[dict[str, Any], ...] = tuple(_record(*row) for row in extension_list.EXTENSIONS)
LEGACY: tuple[dict[str, Any], ...] = tuple(
    sorted(
        (*V21, *(_record(*row) for row in extension_list.LEGACY_ONLY)),
        key=lambda rec: rec["alias"],
    )
)


def _records(req: Req) -> tuple[dict[str, Any], ...]:
    return LEGACY if legacy_v2.is_legacy(req.route.path) else V21


def register(router: Router) -> None:
    @router.route("GET", "/v2.1/extensions")
    async def index(req: Req) -> dict:
        req.authorize("os_compute_api:extensions")
        return {"extensions": list(_records(req))}

    @router.route("GET", "/v2.1/extensions/{alias}")
    async def show(req: Req) -> dict:
        req.authorize("os_compute_api:extensions")
        alias = req.params["alias"]
        for rec in _records(req):
            if rec["alias"] == alias:
                return {"extension": rec}
        raise errors.NotFound("The resource could not be found.")
