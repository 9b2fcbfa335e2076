"""Server metadata: GET/POST (merge)/PUT (replace) /v2.1/servers/{id}/metadata and
GET/PUT/DELETE /v2.1/servers/{id}/metadata/{key}, as Nova has them: at most 128 items
(403 beyond), changes refused with 409 while the server is locked (unless admin) or not
in a state that allows them (active, paused, suspended, stopped, no task running)."""

from __future__ import annotations

from typing import Any

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.compute import states
from stackbox.compute.api import lookup
from stackbox.compute.api.server_create import METADATA, check_metadata_count, validate
from stackbox.compute.models import Instance, InstanceMetadata
from stackbox.db.base import utcnow

METADATA_BODY = {
    "type": "object",
    "properties": {"metadata": METADATA},
    "required": ["metadata"],
    "additionalProperties": False,
}
META_BODY = {
    "type": "object",
    "properties": {"meta": {**METADATA, "minProperties": 1}},
    "required": ["meta"],
    "additionalProperties": False,
}
CHANGEABLE = (states.ACTIVE, states.PAUSED, states.SUSPENDED, states.STOPPED)


def _instance(req: Req, action: str) -> Instance:
    inst = lookup.get_instance(req, req.params["server_id"])
    req.authorize(f"os_compute_api:server-metadata:{action}", lookup.target(inst))
    return inst


def check_changeable(req: Req, inst: Instance, what: str) -> None:
    """Nova's check_instance_lock + check_instance_state for metadata changes."""
    if inst.locked and not req.allowed("context_is_admin"):
        raise errors.Conflict(f"Instance {inst.uuid} is locked")
    if inst.vm_state not in CHANGEABLE or inst.task_state is not None:
        attr, state = (
            ("task_state", inst.task_state)
            if inst.vm_state in CHANGEABLE
            else ("vm_state", inst.vm_state)
        )
        raise errors.Conflict(f"Cannot '{what}' instance {inst.uuid} while it is in {attr} {state}")


def _set(req: Req, inst: Instance, items: dict[str, str], replace: bool) -> dict[str, str]:
    current = {} if replace else inst.meta
    new = {**current, **items}
    check_metadata_count(len(new), req, inst.project_id)  # metadata_items quota
    by_key = {m.key: m for m in inst.metadata_items}
    for key in list(by_key):
        if key not in new:
            inst.metadata_items.remove(by_key.pop(key))
    for key, value in new.items():
        if key in by_key:
            by_key[key].value = value
        else:
            inst.metadata_items.append(InstanceMetadata(key=key, value=value))
    inst.updated_at = utcnow()
    req.db.flush()
    return new


def register(router: Router) -> None:
    base = "/v2.1/servers/{server_id}/metadata"

    @router.route("GET", base)
    def index(req: Req) -> dict[str, Any]:
        return {"metadata": _instance(req, "index").meta}

    @router.route("POST", base)
    def create(req: Req) -> dict[str, Any]:
        validate(METADATA_BODY, req.body)
        inst = _instance(req, "create")
        check_changeable(req, inst, "update metadata")
        return {"metadata": _set(req, inst, req.body["metadata"], replace=False)}

    @router.route("PUT", base)
    def update_all(req: Req) -> dict[str, Any]:
        validate(METADATA_BODY, req.body)
        inst = _instance(req, "update_all")
        check_changeable(req, inst, "update metadata")
        return {"metadata": _set(req, inst, req.body["metadata"], replace=True)}

    @router.route("GET", base + "/{key}")
    def show(req: Req) -> dict[str, Any]:
        meta = _instance(req, "show").meta
        key = req.params["key"]
        if key not in meta:
            raise errors.NotFound("Metadata item was not found")
        return {"meta": {key: meta[key]}}

    @router.route("PUT", base + "/{key}")
    def update(req: Req) -> dict[str, Any]:
        validate(META_BODY, req.body)
        meta = req.body["meta"]
        key = req.params["key"]
        if key not in meta:
            raise errors.BadRequest("Request body and URI mismatch")
        if len(meta) > 1:
            raise errors.BadRequest("Request body contains too many items")
        inst = _instance(req, "update")
        check_changeable(req, inst, "update metadata")
        _set(req, inst, meta, replace=False)
        return {"meta": meta}

    @router.route("DELETE", base + "/{key}", status=204)
    def delete(req: Req) -> None:
        inst = _instance(req, "delete")
        key = req.params["key"]
        if key not in inst.meta:
            raise errors.NotFound("Metadata item was not found")
        check_changeable(req, inst, "delete metadata")
        rest = {k: v for k, v in inst.meta.items() if k != key}
        _set(req, inst, rest, replace=True)
