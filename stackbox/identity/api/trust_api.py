"""OS-TRUST: `/v3/OS-TRUST/trusts` create, list (`?trustor_user_id=`,
`?trustee_user_id=`), show, delete; `/v3/OS-TRUST/trusts/{id}/roles[/{role_id}]`.

Only the trustor creates a trust, delegating roles it holds on the project (by id or
name). `expires_at` and `remaining_uses` limit it; an expired or used-up trust is not
found (listed, and deletable, still). Trusts cannot be updated. Redelegation (a trust
created with a trust-scoped token) is refused; `allow_redelegation` is recorded as
Keystone records it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.identity import store, trusts
from stackbox.identity.api import roles as role_api
from stackbox.identity.api.common import links_for, not_found, v3_url
from stackbox.identity.models import Project, Role, User
from stackbox.identity.models_extra import Trust, TrustRole

MAX_REDELEGATION = 3  # Keystone's [trust] max_redelegation_count
_ROLE_REF = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": False,
}
CREATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["trust"],
    "properties": {
        "trust": {
            "type": "object",
            "required": ["trustor_user_id", "trustee_user_id", "impersonation"],
            "properties": {
                "trustor_user_id": {"type": "string"},
                "trustee_user_id": {"type": "string"},
                "impersonation": {"type": "boolean"},
                "project_id": {"type": ["string", "null"]},
                "remaining_uses": {"type": ["integer", "null"], "minimum": 1},
                "expires_at": {"type": ["string", "null"]},
                "allow_redelegation": {"type": ["boolean", "null"]},
                "redelegation_count": {"type": ["integer", "null"], "minimum": 0},
                "roles": {"type": "array", "items": _ROLE_REF},
            },
        }
    },
}
BASE = "/v3/OS-TRUST/trusts"


def isotime(t: dt.datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_expiry(text: str) -> dt.datetime:
    """Keystone's expiration parsing: ISO 8601, UTC when no zone is given, not past."""
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise errors.BadRequest(
            "Timestamp not in expected format. The server could not comply with the "
            "request since it is either malformed or otherwise incorrect."
        ) from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    if when <= store.utcnow():
        raise errors.BadRequest("The 'expires_at' must not be before now.")
    return when


def view(req: Req, t: Trust, *, with_roles: bool = True) -> dict:
    out = dict(t.extra or {})
    out.update(
        id=t.id,
        trustor_user_id=t.trustor_user_id,
        trustee_user_id=t.trustee_user_id,
        project_id=t.project_id,
        impersonation=t.impersonation,
        expires_at=isotime(t.expires_at),
        remaining_uses=t.remaining_uses,
        redelegated_trust_id=None,
        redelegation_count=t.redelegation_count,
        deleted_at=None,
        links={"self": v3_url(req, f"/OS-TRUST/trusts/{t.id}")},
    )
    if with_roles:
        out["roles"] = [role_api.view(req, r) for r in _roles(req, t)]
        out["roles_links"] = links_for(req, f"/OS-TRUST/trusts/{t.id}/roles")
    return out


def _roles(req: Req, t: Trust) -> list[Role]:
    return store.roles_by_ids(req.db, set(trusts.role_ids(req.db, t)))


def _load(req: Req, action: str, *, spent: bool = False) -> Trust:
    """The path's trust after the policy check; 404 when it is missing, expired or
    used up (`spent`: a used-up or expired trust is still found, so that its trustor
    can delete it and end the tokens it gave)."""
    tid = req.params["trust_id"]
    t = req.db.get(Trust, tid) if spent else trusts.usable(req.db, tid)
    if t is None:
        raise not_found("trust", tid)
    req.authorize(
        action,
        {
            "target": {
                "trust": {
                    "trustor_user_id": t.trustor_user_id,
                    "trustee_user_id": t.trustee_user_id,
                }
            }
        },
    )
    return t


def _role_ids(req: Req, refs: list[dict]) -> list[str]:
    """Role ids of the request's `roles` (by id, or by the name of a global role)."""
    out: list[str] = []
    for ref in refs:
        if ref.get("id"):
            out.append(ref["id"])
            continue
        role = store.role_by_name(req.db, ref["name"])
        if role is None:
            raise not_found("role", ref["name"])
        out.append(role.id)
    return list(dict.fromkeys(out))


def _check_trustor_roles(req: Req, trustor_id: str, project_id: str | None, ids: list[str]) -> None:
    held: set[str] = set()
    if project_id:
        project = req.db.get(Project, project_id)
        if project is None:
            raise not_found("project", project_id)
        held = store.effective_role_ids(req.db, trustor_id, project=project)
    for rid in ids:
        if rid not in held:
            raise not_found("role", rid)


def _redelegation(data: dict) -> int:
    requested = data.get("redelegation_count")
    if not data.get("allow_redelegation") or requested == 0:
        return 0
    if requested is not None and requested > MAX_REDELEGATION:
        raise errors.Forbidden(
            f"Requested redelegation depth of {requested} is greater than allowed "
            f"{MAX_REDELEGATION}"
        )
    if data.get("remaining_uses") is not None:
        raise errors.BadRequest("remaining_uses must not be set if redelegation is allowed")
    return requested if requested is not None else MAX_REDELEGATION


def create(req: Req, data: dict) -> Trust:
    req.authorize("identity:create_trust", {"target": {"trust": data}})
    if data.get("project_id") and not data.get("roles"):
        raise errors.Forbidden(
            "You are not authorized to perform the requested action: "
            "At least one role should be specified."
        )
    if req.context.extra.get("trust_id"):
        raise errors.Forbidden(
            f"Remaining redelegation depth of 0 out of allowed range of [0..{MAX_REDELEGATION}]."
        )
    if req.db.get(User, data["trustee_user_id"]) is None:
        raise not_found("user", data["trustee_user_id"])
    ids = _role_ids(req, data.get("roles") or [])
    _check_trustor_roles(req, data["trustor_user_id"], data.get("project_id"), ids)
    known = {*CREATE_SCHEMA["properties"]["trust"]["properties"], "id"}
    t = Trust(
        trustor_user_id=data["trustor_user_id"],
        trustee_user_id=data["trustee_user_id"],
        project_id=data.get("project_id"),
        impersonation=data["impersonation"],
        expires_at=parse_expiry(data["expires_at"]) if data.get("expires_at") else None,
        remaining_uses=data.get("remaining_uses"),
        redelegation_count=_redelegation(data),
        extra={k: v for k, v in data.items() if k not in known and k != "links"},
    )
    req.db.add(t)
    req.db.flush()
    for rid in ids:
        req.db.add(TrustRole(trust_id=t.id, role_id=rid))
    req.db.flush()
    return t


def _list(req: Req) -> list[Trust]:
    trustor, trustee = req.query.get("trustor_user_id"), req.query.get("trustee_user_id")
    q = select(Trust).order_by(Trust.id)
    if trustor:
        req.authorize(
            "identity:list_trusts_for_trustor",
            {"target": {"trust": {"trustor_user_id": trustor}}},
        )
        q = q.where(Trust.trustor_user_id == trustor)
    elif trustee:
        req.authorize(
            "identity:list_trusts_for_trustee",
            {"target": {"trust": {"trustee_user_id": trustee}}},
        )
        q = q.where(Trust.trustee_user_id == trustee)
    else:
        req.authorize("identity:list_trusts")
    return list(req.db.scalars(q))


def register(router: Router) -> None:
    @router.route("POST", BASE, status=201, schema=CREATE_SCHEMA)
    def create_trust(req: Req) -> dict:
        return {"trust": view(req, create(req, req.body["trust"]))}

    def list_trusts(req: Req) -> dict:
        return {
            "trusts": [view(req, t, with_roles=False) for t in _list(req)],
            "links": links_for(req, "/OS-TRUST/trusts"),
        }

    # Tempest (like keystoneclient) lists with a trailing slash; Keystone accepts both.
    router.route("GET", BASE)(list_trusts)
    router.route("GET", BASE + "/")(list_trusts)

    @router.route("GET", BASE + "/{trust_id}")
    def get_trust(req: Req) -> dict:
        return {"trust": view(req, _load(req, "identity:get_trust"))}

    @router.route("DELETE", BASE + "/{trust_id}")
    def delete_trust(req: Req) -> None:
        req.db.delete(_load(req, "identity:delete_trust", spent=True))
        # Tokens of the trust stop validating: drop every process's token cache.
        store.bump_revision(req.db)

    @router.route("GET", BASE + "/{trust_id}/roles")
    def list_trust_roles(req: Req) -> dict:
        t = _load(req, "identity:list_roles_for_trust")
        return {
            "roles": [role_api.view(req, r) for r in _roles(req, t)],
            "links": links_for(req, f"/OS-TRUST/trusts/{t.id}/roles"),
        }

    @router.route("GET", BASE + "/{trust_id}/roles/{role_id}")
    def get_trust_role(req: Req) -> dict:
        t = _load(req, "identity:get_role_for_trust")
        rid = req.params["role_id"]
        role = req.db.get(Role, rid) if rid in trusts.role_ids(req.db, t) else None
        if role is None:
            raise not_found("role", rid)
        return {"role": role_api.view(req, role)}
