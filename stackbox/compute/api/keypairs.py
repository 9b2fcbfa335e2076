"""Key pairs (per user): GET/POST /v2.1/os-keypairs, GET/DELETE /v2.1/os-keypairs/{name}.

Nova's behaviour by microversion: 2.2 adds `type` (ssh | x509) and changes create to 201
and delete to 204; 2.10 lets an admin name another user (`?user_id=` or the body's
`user_id`); 2.35 pages the list (`limit`, `marker` = a key name); 2.75 refuses unknown
query parameters; 2.92 refuses to generate keys (a `public_key` is required) and allows
`@` and `.` in names. Key material (parsing, fingerprints, generation) is in
`stackbox/compute/keygen.py`.
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from stackbox.api import errors
from stackbox.api.framework import Req, Router, validate
from stackbox.compute import keygen, quotas
from stackbox.compute.api import common
from stackbox.compute.api.microversion import version
from stackbox.compute.models import KeyPair

_NAME = r"^[_\- a-zA-Z0-9]+$"
_NAME_V292 = r"^[_\-@. a-zA-Z0-9]+$"


def _create_schema(name_pattern: str, *, key_type: bool, user_id: bool) -> dict:
    props: dict[str, Any] = {
        "name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": name_pattern},
        "public_key": {"type": "string"},
    }
    if key_type:
        props["type"] = {"type": "string", "enum": [keygen.SSH, keygen.X509]}
    if user_id:
        props["user_id"] = {"type": "string"}
    return {
        "type": "object",
        "properties": {
            "keypair": {
                "type": "object",
                "properties": props,
                "required": ["name"],
                "additionalProperties": False,
            }
        },
        "required": ["keypair"],
        "additionalProperties": False,
    }


CREATE = _create_schema(_NAME, key_type=False, user_id=False)
CREATE_V22 = _create_schema(_NAME, key_type=True, user_id=False)
CREATE_V210 = _create_schema(_NAME, key_type=True, user_id=True)
CREATE_V292 = copy.deepcopy(_create_schema(_NAME_V292, key_type=True, user_id=True))
CREATE_V292["properties"]["keypair"]["required"] = ["name", "public_key"]


def _create_schema_for(v: tuple[int, int]) -> dict:
    if v >= (2, 92):
        return CREATE_V292
    if v >= (2, 10):
        return CREATE_V210
    if v >= (2, 2):
        return CREATE_V22
    return CREATE


def _user_id(req: Req) -> str:
    """The user whose key pairs this call is about: the caller, or (2.10+) ?user_id."""
    if version(req) >= (2, 10):
        named = req.query.get("user_id")
        if named:
            return str(named)
    return req.context.user_id


def _check_query(req: Req, allowed: set[str]) -> None:
    if version(req) >= (2, 75):
        common.reject_unknown_query(req, allowed)


def _get(req: Req, user_id: str, name: str) -> KeyPair:
    kp = req.db.scalar(select(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == name))
    if kp is None:
        raise errors.NotFound(f"Keypair {name} not found for user {user_id}")
    return kp


def _view(kp: KeyPair, fields: tuple[str, ...]) -> dict[str, Any]:
    full: dict[str, Any] = {
        "name": kp.name,
        "public_key": kp.public_key,
        "fingerprint": kp.fingerprint,
        "user_id": kp.user_id,
        "type": kp.type,
        "created_at": common.iso_us(kp.created_at),
        "deleted": False,
        "deleted_at": None,
        "id": kp.id,
        "updated_at": None,
    }
    return {f: full[f] for f in fields}


INDEX_FIELDS = ("name", "public_key", "fingerprint")
CREATE_FIELDS = (*INDEX_FIELDS, "user_id")
SHOW_FIELDS = (*CREATE_FIELDS, "created_at", "deleted", "deleted_at", "id", "updated_at")


def _typed(req: Req, fields: tuple[str, ...]) -> tuple[str, ...]:
    return (*fields, "type") if version(req) >= (2, 2) else fields


def register(router: Router) -> None:
    @router.route("GET", "/v2.1/os-keypairs")
    def index(req: Req) -> dict:
        _check_query(req, {"user_id", "limit", "marker"})
        user_id = _user_id(req)
        req.authorize("os_compute_api:os-keypairs:index", {"user_id": user_id})
        q = select(KeyPair).where(KeyPair.user_id == user_id).order_by(KeyPair.name)
        paged = version(req) >= (2, 35)
        limit = 0
        if paged:
            limit, marker = common.paging(req)
            if marker is not None:
                mark = req.db.scalar(
                    select(KeyPair.name).where(KeyPair.user_id == user_id, KeyPair.name == marker)
                )
                if mark is None:
                    raise errors.BadRequest(f"Marker {marker} could not be found.")
                q = q.where(KeyPair.name > marker)
            q = q.limit(limit)
        rows = list(req.db.scalars(q))
        fields = _typed(req, INDEX_FIELDS)
        body: dict[str, Any] = {"keypairs": [{"keypair": _view(kp, fields)} for kp in rows]}
        if paged and rows and len(rows) == limit:
            body["keypairs_links"] = common.next_link_keeping(req, "os-keypairs", rows[-1].name)
        return body

    @router.route("GET", "/v2.1/os-keypairs/{name}")
    def show(req: Req) -> dict:
        _check_query(req, {"user_id"})
        user_id = _user_id(req)
        req.authorize("os_compute_api:os-keypairs:show", {"user_id": user_id})
        kp = _get(req, user_id, req.params["name"])
        return {"keypair": _view(kp, _typed(req, SHOW_FIELDS))}

    @router.route("DELETE", "/v2.1/os-keypairs/{name}")
    def delete(req: Req) -> tuple[None, int]:
        _check_query(req, {"user_id"})
        user_id = _user_id(req)
        req.authorize("os_compute_api:os-keypairs:delete", {"user_id": user_id})
        req.db.delete(_get(req, user_id, req.params["name"]))
        return None, 204 if version(req) >= (2, 2) else 202

    @router.route("POST", "/v2.1/os-keypairs")
    def create(req: Req) -> tuple[dict, int]:
        v = version(req)
        validate(_create_schema_for(v), req.body)
        params = req.body["keypair"]
        name = params["name"]
        if name != name.strip():
            raise errors.BadRequest(
                "Invalid input for field/attribute name. Value: "
                f"{name}. Can not start or end with whitespace."
            )
        key_type = params.get("type", keygen.SSH)
        user_id = params.get("user_id") or req.context.user_id
        req.authorize("os_compute_api:os-keypairs:create", {"user_id": user_id})
        private_key = None
        try:
            if "public_key" in params:
                public_key = params["public_key"]
                fingerprint = keygen.fingerprint(public_key, key_type)
            else:
                private_key, public_key, fingerprint = keygen.generate(key_type, user_id)
        except keygen.InvalidKey as exc:
            raise errors.BadRequest(f"Keypair data is invalid: {exc}") from None
        db = req.db
        exists = select(KeyPair.id).where(KeyPair.user_id == user_id, KeyPair.name == name)
        if db.scalar(exists) is not None:
            raise errors.Conflict(f"Key pair '{name}' already exists.")
        # key_pairs quota of the user (locks the caller's project row)
        quotas.check(db, req.context.project_id or "", user_id, {"key_pairs": 1}, cfg=req.state.cfg)
        kp = KeyPair(
            name=name,
            user_id=user_id,
            fingerprint=fingerprint,
            public_key=public_key,
            type=key_type,
        )
        try:
            with db.begin_nested():
                db.add(kp)
        except IntegrityError:
            raise errors.Conflict(f"Key pair '{name}' already exists.") from None
        fields: tuple[str, ...] = CREATE_FIELDS
        if v >= (2, 2):
            fields = ("type", *fields)
        body = _view(kp, fields)
        if private_key is not None:
            body = {"private_key": private_key, **body}
        return {"keypair": body}, 201 if v >= (2, 2) else 200
