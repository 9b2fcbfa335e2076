"""/v3/credentials: create, list (`?user_id=`, `?type=`), show, update, delete.

Blobs are stored encrypted (`identity.secrets`) and shown as the JSON string they were
given. An `ec2` credential needs a project and a blob with `access`; its id is the
SHA-256 of the access key, as Keystone makes it (so a second credential with the same
access key is a 409), and the `trust_id`, `app_cred_id`, `access_token_id` and
`access_id` its blob carries cannot be changed. Users manage their own credentials;
admins and system readers see everyone's, and a list shows only what the caller may get.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.identity import secrets
from stackbox.identity.api.common import (
    collection,
    extras,
    flush_or_conflict,
    not_found,
    self_link,
)
from stackbox.identity.models_extra import Credential

_PROPS: dict[str, Any] = {
    "blob": {"type": "string"},
    "project_id": {"type": ["string", "null"]},
    "type": {"type": "string"},
    "user_id": {"type": "string"},
}
CREATE_SCHEMA = {
    "type": "object",
    "required": ["credential"],
    "properties": {
        "credential": {
            "type": "object",
            "properties": {"id": {"type": "string"}, **_PROPS},
            "required": ["blob", "type", "user_id"],
            "if": {"properties": {"type": {"const": "ec2"}}},
            "then": {"required": ["blob", "type", "user_id", "project_id"]},
        }
    },
}
UPDATE_SCHEMA = {
    "type": "object",
    "required": ["credential"],
    "properties": {"credential": {"type": "object", "properties": _PROPS, "minProperties": 1}},
}
_COLUMNS = ("blob", "project_id", "type", "user_id")
_SCOPE_KEYS = ("trust_id", "app_cred_id", "access_token_id", "access_id")
EC2 = "ec2"


def view(req: Req, c: Credential) -> dict:
    out = dict(c.extra or {})
    out.update(
        id=c.id,
        user_id=c.user_id,
        project_id=c.project_id,
        type=c.type,
        blob=secrets.box_for(req.state.cfg).decrypt(c.encrypted_blob),
        links=self_link(req, "credentials", c.id),
    )
    return out


def ec2_blob(blob: str) -> dict:
    """The parsed blob of an `ec2` credential, or 400 as Keystone words it."""
    try:
        data = json.loads(blob)
    except ValueError:
        raise errors.BadRequest("Invalid blob in credential") from None
    if not data or not isinstance(data, dict):
        raise errors.BadRequest("Invalid input for field 'blob': it must be a JSON object.")
    if data.get("access") is None:
        raise errors.BadRequest("Invalid input for field 'access' of credential: it is required.")
    return data


def access_hash(access: str) -> str:
    return hashlib.sha256(access.encode()).hexdigest()


def store(req: Req, row: Credential, blob: str) -> None:
    box = secrets.box_for(req.state.cfg)
    row.encrypted_blob = box.encrypt(blob)
    row.key_hash = box.key_hash


def create(req: Req, data: dict, trust_id: str | None = None) -> Credential:
    """A new credential row (flushed; 409 when its id is taken)."""
    blob = data["blob"]
    cid = None  # Keystone ignores a given id
    if data["type"].lower() == EC2:
        parsed = ec2_blob(blob)
        cid = access_hash(str(parsed["access"]))
        if trust_id is not None:
            parsed["trust_id"] = trust_id
            blob = json.dumps(parsed)
    row = Credential(
        id=cid,
        user_id=data["user_id"],
        project_id=data.get("project_id"),
        type=data["type"],
        extra=extras(data, _COLUMNS),
    )
    store(req, row, blob)
    req.db.add(row)
    flush_or_conflict(
        req,
        lambda: errors.Conflict(
            f"Conflict occurred attempting to store credential - Duplicate ID, {row.id}."
        ),
    )
    return row


def _target(req: Req, c: Credential | None) -> dict:
    return (
        {"target": {"credential": {"user_id": c.user_id, "project_id": c.project_id}}} if c else {}
    )


def _load(req: Req, action: str) -> Credential:
    cid = req.params["credential_id"]
    c = req.db.get(Credential, cid)
    req.authorize(action, _target(req, c))
    if c is None:
        raise not_found("credential", cid)
    return c


def _check_scope_keys(req: Req, c: Credential, data: dict) -> None:
    if c.type.lower() != EC2 or "blob" not in data:
        return
    new = ec2_blob(data["blob"])
    old = json.loads(secrets.box_for(req.state.cfg).decrypt(c.encrypted_blob))
    for key in _SCOPE_KEYS:
        if old.get(key) != new.get(key):
            raise errors.BadRequest(f"{key} can not be updated for credential")


def register(router: Router) -> None:
    @router.route("POST", "/v3/credentials", status=201, schema=CREATE_SCHEMA)
    def create_credential(req: Req) -> dict:
        data = req.body["credential"]
        req.authorize("identity:create_credential", {"target": {"credential": data}})
        return {"credential": view(req, create(req, data, req.context.extra.get("trust_id")))}

    @router.route("GET", "/v3/credentials")
    def list_credentials(req: Req) -> dict:
        ctx = req.context
        mine = None if ctx.system_scope else {"credential": {"user_id": ctx.user_id}}
        req.authorize("identity:list_credentials", {"target": mine} if mine else {})
        q = select(Credential).order_by(Credential.created_at, Credential.id)
        for key in ("user_id", "type"):
            if req.query.get(key) is not None:
                q = q.where(getattr(Credential, key) == req.query[key])
        rows = [
            c for c in req.db.scalars(q) if req.allowed("identity:get_credential", _target(req, c))
        ]
        return collection(req, "credentials", (view(req, c) for c in rows))

    @router.route("GET", "/v3/credentials/{credential_id}")
    def get_credential(req: Req) -> dict:
        return {"credential": view(req, _load(req, "identity:get_credential"))}

    @router.route("PATCH", "/v3/credentials/{credential_id}", schema=UPDATE_SCHEMA)
    def update_credential(req: Req) -> dict:
        c = _load(req, "identity:update_credential")
        data = req.body["credential"]
        _check_scope_keys(req, c, data)
        if "id" in data and data["id"] != c.id:
            raise errors.BadRequest("Cannot change ID")
        merged = {"user_id": c.user_id, "project_id": c.project_id}
        merged.update({k: data[k] for k in ("user_id", "project_id") if k in data})
        req.authorize("identity:update_credential", {"target": {"credential": merged}})
        for key in ("user_id", "project_id", "type"):
            if key in data:
                setattr(c, key, data[key])
        if "blob" in data:
            store(req, c, data["blob"])
        more = extras(data, _COLUMNS)
        if more:
            c.extra = {**(c.extra or {}), **more}
        return {"credential": view(req, c)}

    @router.route("DELETE", "/v3/credentials/{credential_id}")
    def delete_credential(req: Req) -> None:
        req.db.delete(_load(req, "identity:delete_credential"))
