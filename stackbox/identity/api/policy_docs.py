"""/v3/policies: create, list (`?type=`), show, update, delete of policy documents.

Keystone stores these opaque blobs for other services to fetch; nothing here evaluates
them (stackbox's own rules are `api.policy_file`). Admins write them; admins and system
readers read them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.identity.api.common import collection, extras, get_or_404, self_link
from stackbox.identity.models_extra import IdentityPolicy

_PROPS: dict[str, Any] = {"blob": {"type": "string"}, "type": {"type": "string", "maxLength": 255}}
CREATE_SCHEMA = {
    "type": "object",
    "required": ["policy"],
    "properties": {
        "policy": {"type": "object", "properties": _PROPS, "required": ["blob", "type"]}
    },
}
UPDATE_SCHEMA = {
    "type": "object",
    "required": ["policy"],
    "properties": {"policy": {"type": "object", "properties": _PROPS, "minProperties": 1}},
}


def view(req: Req, p: IdentityPolicy) -> dict:
    out = dict(p.extra or {})
    out.update(id=p.id, blob=p.blob, type=p.type, links=self_link(req, "policies", p.id))
    return out


def _load(req: Req, action: str) -> IdentityPolicy:
    req.authorize(action)
    return get_or_404(req, IdentityPolicy, "policy", req.params["policy_id"])


def register(router: Router) -> None:
    @router.route("POST", "/v3/policies", status=201, schema=CREATE_SCHEMA)
    def create_policy(req: Req) -> dict:
        req.authorize("identity:create_policy")
        data = req.body["policy"]
        p = IdentityPolicy(blob=data["blob"], type=data["type"], extra=extras(data, _PROPS))
        req.db.add(p)
        req.db.flush()
        return {"policy": view(req, p)}

    @router.route("GET", "/v3/policies")
    def list_policies(req: Req) -> dict:
        req.authorize("identity:list_policies")
        q = select(IdentityPolicy).order_by(IdentityPolicy.id)
        if req.query.get("type") is not None:
            q = q.where(IdentityPolicy.type == req.query["type"])
        return collection(req, "policies", (view(req, p) for p in req.db.scalars(q)))

    @router.route("GET", "/v3/policies/{policy_id}")
    def get_policy(req: Req) -> dict:
        return {"policy": view(req, _load(req, "identity:get_policy"))}

    @router.route("PATCH", "/v3/policies/{policy_id}", schema=UPDATE_SCHEMA)
    def update_policy(req: Req) -> dict:
        p = _load(req, "identity:update_policy")
        data = req.body["policy"]
        if "id" in data and data["id"] != p.id:
            raise errors.BadRequest("Cannot change policy ID")
        if "blob" in data:
            p.blob = data["blob"]
        if "type" in data:
            p.type = data["type"]
        more = extras(data, _PROPS)
        if more:
            p.extra = {**(p.extra or {}), **more}
        return {"policy": view(req, p)}

    @router.route("DELETE", "/v3/policies/{policy_id}")
    def delete_policy(req: Req) -> None:
        req.db.delete(_load(req, "identity:delete_policy"))
