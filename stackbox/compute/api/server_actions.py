"""POST /v2.1/servers/{server_id}/action: the dispatcher. The body names exactly one
action (`{"os-stop": null}`); its value is checked against that action's schema for the
request's microversion, then the instance is looked up (404 for other projects) and
the action's handler runs. That is Nova's order: a key that names no action, or a value
its schema refuses, is 400 whether or not the server exists; a valid body on a missing
server is 404. Actions without parameters take any value (`null`, `{}`), as in Nova.

Handlers live in server_action_power.py (power, lock, resetState, console),
server_action_images.py (createImage, shelve*), and server_action_resize.py (resize,
confirm/revert, rebuild), server_action_deferred.py (restore, forceDelete); shared
steps in server_action_base.py."""

from __future__ import annotations

from typing import Any

from stackbox.api import errors
from stackbox.api.framework import Req, Router, validate
from stackbox.compute.api import (
    lookup,
    server_action_deferred,
    server_action_images,
    server_action_power,
    server_action_rescue,
    server_action_resize,
)
from stackbox.compute.api import server_action_base as base
from stackbox.compute.api.microversion import pick, version

ACTIONS: dict[str, base.ActionSpec] = {
    **server_action_power.ACTIONS,
    **server_action_images.ACTIONS,
    **server_action_resize.ACTIONS,
    **server_action_deferred.ACTIONS,
    **server_action_rescue.ACTIONS,
}


# {key: [(since, wrapped schema), ...]}: module constants, one per microversion range.
# Wrapped as {key: value} so errors name `<action>.<field>`.
_SCHEMAS: dict[str, list[tuple[tuple[int, int], dict]]] = {
    key: [
        (since, {"type": "object", "properties": {key: schema}, "required": [key]})
        for since, schema in spec.schemas
    ]
    for key, spec in ACTIONS.items()
}


def server_action(req: Req) -> Any:
    body = req.body
    if not isinstance(body, dict) or len(body) != 1:
        raise errors.BadRequest(
            'Malformed request body: it must name exactly one action, e.g. {"os-stop": null}.'
        )
    ((key, value),) = body.items()
    spec = ACTIONS.get(key)
    if spec is None:
        raise errors.BadRequest(f"There is no such action: {key}")
    validate(pick(_SCHEMAS[key], version(req)), body)
    inst = lookup.get_instance(req, req.params["server_id"])
    return spec.handler(req, inst, value)


def register(router: Router) -> None:
    router.route("POST", "/v2.1/servers/{server_id}/action", status=202)(server_action)
