"""Server tags (microversion 2.26+; 404 before): GET/PUT (replace all)/DELETE (all)
/v2.1/servers/{id}/tags and GET (204/404)/PUT (201 new, 204 existed)/DELETE
/v2.1/servers/{id}/tags/{tag}. At most 50 tags per server, each 1-60 characters without
'/' or ','. Changes need the server active, paused, suspended or stopped (409 else)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.compute import states
from stackbox.compute.api import lookup
from stackbox.compute.api.microversion import version
from stackbox.compute.api.server_create import TAG, TAGS, validate
from stackbox.compute.models import Instance, InstanceTag
from stackbox.db.base import utcnow

MAX_TAGS = 50
TAGS_BODY = {
    "type": "object",
    "properties": {"tags": TAGS},
    "required": ["tags"],
    "additionalProperties": False,
}
_TAG_ONLY = {"type": "object", "properties": {"tag": TAG}}
CHANGEABLE = (states.ACTIVE, states.PAUSED, states.SUSPENDED, states.STOPPED)


def _instance(req: Req, action: str, change: str | None = None) -> Instance:
    if version(req) < (2, 26):
        raise errors.NotFound("The resource could not be found.")
    inst = lookup.get_instance(req, req.params["server_id"])
    req.authorize(f"os_compute_api:os-server-tags:{action}", lookup.target(inst))
    if change is not None and inst.vm_state not in CHANGEABLE:
        raise errors.Conflict(
            f"Cannot '{change}' instance {inst.uuid} while it is in vm_state {inst.vm_state}"
        )
    return inst


def _replace(req: Req, inst: Instance, tags: list[str]) -> list[str]:
    wanted = list(dict.fromkeys(tags))
    have = {t.tag: t for t in inst.tags}
    for tag, row in have.items():
        if tag not in wanted:
            inst.tags.remove(row)
    for tag in wanted:
        if tag not in have:
            inst.tags.append(InstanceTag(tag=tag))
    inst.updated_at = utcnow()
    req.db.flush()
    return sorted(wanted)


def register(router: Router) -> None:
    base = "/v2.1/servers/{server_id}/tags"

    @router.route("GET", base)
    def index(req: Req) -> dict[str, Any]:
        return {"tags": [t.tag for t in _instance(req, "index").tags]}

    @router.route("PUT", base)
    def update_all(req: Req) -> dict[str, Any]:
        if version(req) >= (2, 26):
            validate(TAGS_BODY, req.body)
        inst = _instance(req, "update_all", "update tags")
        return {"tags": _replace(req, inst, req.body["tags"])}

    @router.route("DELETE", base, status=204)
    def delete_all(req: Req) -> None:
        inst = _instance(req, "delete_all", "delete tags")
        _replace(req, inst, [])

    @router.route("GET", base + "/{tag}", status=204)
    def show(req: Req) -> None:
        inst = _instance(req, "show")
        tag = req.params["tag"]
        if tag not in {t.tag for t in inst.tags}:
            raise errors.NotFound(f"Server {inst.uuid} has no tag '{tag}'")

    @router.route("PUT", base + "/{tag}")
    def update(req: Req) -> Response:
        inst = _instance(req, "update", "update tag")
        tag = req.params["tag"]
        try:
            validate(_TAG_ONLY, {"tag": tag})
        except errors.BadRequest as exc:
            raise errors.BadRequest(
                f"Tag '{tag}' is invalid. It must be a non empty string without characters "
                f"'/' and ','. Validation error message: {exc.message}"
            ) from None
        have = [t.tag for t in inst.tags]
        if len(have) >= MAX_TAGS:  # checked first, as Nova does
            raise errors.BadRequest(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
        if tag in have:
            return Response(status_code=204)
        _replace(req, inst, [*have, tag])
        location = f"{req.base_url}/v2.1/servers/{inst.uuid}/tags/{tag}"
        return Response(status_code=201, headers={"Location": location})

    @router.route("DELETE", base + "/{tag}", status=204)
    def delete(req: Req) -> None:
        inst = _instance(req, "delete", "delete tag")
        tag = req.params["tag"]
        if tag not in {t.tag for t in inst.tags}:
            raise errors.NotFound(f"Instance {inst.uuid} has no tag '{tag}'")
        _replace(req, inst, [t.tag for t in inst.tags if t.tag != tag])
