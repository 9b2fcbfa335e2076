"""Application credentials and access rules of a user, as Keystone serves them:

    POST|GET   /v3/users/{user_id}/application_credentials        (list filter `name`)
    GET|DELETE /v3/users/{user_id}/application_credentials/{id}
    GET        /v3/users/{user_id}/access_rules                   (filters service, path, method)
    GET|DELETE /v3/users/{user_id}/access_rules/{id}

A credential belongs to the project of the token that created it and carries a subset
of that token's roles (all by default; the roles a chosen role implies come along). Its
secret is shown once, at creation, and stored hashed like passwords. A restricted
credential's token (the default) may not create or delete credentials. An access rule
in use by a credential cannot be deleted. Authentication is in `auth.py`; what a
token of a credential carries is in `tokens.py` and `appcreds.py`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.identity import appcreds, passwords, store
from stackbox.identity.api.common import (
    NAME_255,
    NULLABLE_STR,
    collection,
    conflict,
    flush_or_conflict,
    not_found,
    v3_url,
)
from stackbox.identity.models import (
    AccessRule,
    AppCredAccessRule,
    ApplicationCredential,
    Role,
    User,
)

_ROLE_REF = {
    "type": "object",
    "properties": {"id": {"type": "string", "minLength": 1, "maxLength": 64}, "name": NAME_255},
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": False,
}
_ACCESS_RULE = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 64},
        "service": {"type": "string", "minLength": 1, "maxLength": 64},
        "path": {"type": "string", "maxLength": 225, "pattern": "^/"},
        "method": {"type": "string", "enum": ["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"]},
    },
    "additionalProperties": False,
}
CREATE_SCHEMA = {
    "type": "object",
    "required": ["application_credential"],
    "properties": {
        "application_credential": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "id": {"type": "string"},
                "name": NAME_255,
                "description": NULLABLE_STR,
                "secret": NULLABLE_STR,
                "expires_at": NULLABLE_STR,
                "project_id": {"type": "string"},
                "unrestricted": {"type": ["boolean", "null"]},
                "system": NULLABLE_STR,
                "roles": {"type": "array", "items": _ROLE_REF},
                "access_rules": {"type": "array", "items": _ACCESS_RULE},
            },
            "additionalProperties": False,
        }
    },
}
_MANAGE_REFUSED = (
    "You are not authorized to perform the requested action: Using method "
    "'application_credential' is not allowed for managing additional application credentials."
)


def isotime(t: dt.datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%S.%f")


def parse_expiry(value: str | None) -> dt.datetime | None:
    """An ISO 8601 time as naive UTC; 400 when unreadable or already past."""
    if value is None:
        return None
    try:
        t = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise errors.BadRequest(f"Invalid input for field 'expires_at': {value!r}") from None
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    if t < store.utcnow():
        raise errors.BadRequest("The 'expires_at' must not be before now.")
    return t


def view(req: Req, c: ApplicationCredential, roles: dict[str, Role], rules: list) -> dict:
    out = {
        "id": c.id,
        "name": c.name,
        "description": c.description,
        "expires_at": isotime(c.expires_at),
        "project_id": c.project_id,
        "unrestricted": bool(c.unrestricted),
        "roles": [
            {"id": r.id, "name": r.name, "domain_id": r.domain_id}
            for r in (roles.get(i) for i in c.role_ids or ())
            if r is not None
        ],
        "links": {"self": v3_url(req, f"/users/{c.user_id}/application_credentials/{c.id}")},
    }
    if rules:
        out["access_rules"] = [appcreds.rule_view(r) for r in rules]
    return out


def _views(req: Req, creds: list[ApplicationCredential]) -> list[dict]:
    ids = {i for c in creds for i in c.role_ids or ()}
    roles = {r.id: r for r in req.db.scalars(select(Role).where(Role.id.in_(ids)))} if ids else {}
    rules = appcreds.rules_of(req.db, [c.id for c in creds])
    return [view(req, c, roles, rules.get(c.id, [])) for c in creds]


def _refuse_restricted(req: Req) -> None:
    cred = req.context.application_credential
    if cred is not None and cred["restricted"]:
        raise errors.Forbidden(_MANAGE_REFUSED)


def _chosen_roles(req: Req, refs: list[dict] | None) -> list[str]:
    """Role ids of the new credential: those asked for (by id or name) plus what they
    imply, all of which the token must carry (400 otherwise); default: the token's."""
    ctx = req.context
    if not refs:
        return list(ctx.role_ids)
    ids: set[str] = set()
    for ref in refs:
        if "id" in ref:
            ids.add(ref["id"])
            continue
        role = store.role_by_name(req.db, ref["name"])
        if role is None:
            raise not_found("role", ref["name"])
        ids.add(role.id)
    ids = store.implied_closure(store.implication_rules(req.db), ids)
    if not ids <= set(ctx.role_ids):
        raise errors.BadRequest(
            "Invalid application credential: Cannot create an application credential "
            "with unassigned role"
        )
    return [i for i in ctx.role_ids if i in ids]


def _attach_rules(req: Req, cred: ApplicationCredential, refs: list[dict]) -> None:
    """Link the credential to the user's access rules: an existing one by id or by
    content, else a new one."""
    seen: set[str] = set()
    for ref in refs:
        rule = req.db.get(AccessRule, ref["id"]) if ref.get("id") else None
        if rule is not None and rule.user_id != cred.user_id:
            rule = None
        if rule is None:
            if not all(ref.get(k) for k in ("service", "path", "method")):
                raise errors.BadRequest(
                    "Invalid input for field 'access_rules': each new rule needs "
                    "service, path and method."
                )
            rule = req.db.scalar(
                select(AccessRule).where(
                    AccessRule.user_id == cred.user_id,
                    AccessRule.service == ref["service"],
                    AccessRule.path == ref["path"],
                    AccessRule.method == ref["method"],
                )
            )
        if rule is None:
            rule = AccessRule(
                user_id=cred.user_id,
                service=ref["service"],
                path=ref["path"],
                method=ref["method"],
            )
            req.db.add(rule)
            req.db.flush()
        if rule.id not in seen:
            seen.add(rule.id)
            req.db.add(AppCredAccessRule(app_cred_id=cred.id, access_rule_id=rule.id))


def create_app_cred(req: Req) -> tuple[dict, int]:
    user_id = req.params["user_id"]
    req.authorize("identity:create_application_credential", {"user_id": user_id})
    _refuse_restricted(req)
    ctx = req.context
    if ctx.user_id != user_id:
        raise errors.Forbidden(
            "You are not authorized to perform the requested action: Cannot create an "
            "application credential for another user."
        )
    if ctx.project_id is None:
        raise errors.BadRequest(
            "Invalid application credential: a project-scoped token is needed to create one."
        )
    data = req.body["application_credential"]
    name = data["name"].strip()
    if req.db.scalar(
        select(ApplicationCredential.id).where(
            ApplicationCredential.user_id == user_id, ApplicationCredential.name == name
        )
    ):
        raise conflict("application_credential", "name", name)
    secret = data.get("secret") or appcreds.new_secret()
    cred = ApplicationCredential(
        name=name,
        description=data.get("description"),
        secret_hash=passwords.hash_password(secret),
        user_id=user_id,
        project_id=ctx.project_id,
        expires_at=parse_expiry(data.get("expires_at")),
        unrestricted=bool(data.get("unrestricted")),
        role_ids=_chosen_roles(req, data.get("roles")),
    )
    req.db.add(cred)
    flush_or_conflict(req, lambda: conflict("application_credential", "name", name))
    _attach_rules(req, cred, data.get("access_rules") or [])
    req.db.flush()
    out = _views(req, [cred])[0]
    out["secret"] = secret
    return {"application_credential": out}, 201


def _load(req: Req, action: str) -> ApplicationCredential:
    """The credential of the path, policy checked against its real owner."""
    p = req.params
    cred = req.db.get(ApplicationCredential, p["application_credential_id"])
    owner = cred.user_id if cred is not None else p["user_id"]
    req.authorize(action, {"user_id": owner})
    if cred is None or cred.user_id != p["user_id"]:
        raise errors.NotFound(
            f"Could not find Application Credential: {p['application_credential_id']}."
        )
    return cred


def _rule_target(req: Req) -> dict:
    user = req.db.get(User, req.params["user_id"])
    return {"target": {"user": {"id": user.id, "domain_id": user.domain_id}}} if user else {}


def _rule_view(req: Req, r: AccessRule) -> dict:
    return {
        **appcreds.rule_view(r),
        "links": {"self": v3_url(req, f"/users/{r.user_id}/access_rules/{r.id}")},
    }


def _load_rule(req: Req, action: str) -> AccessRule:
    req.authorize(action, _rule_target(req))
    rule = req.db.get(AccessRule, req.params["access_rule_id"])
    if rule is None or rule.user_id != req.params["user_id"]:
        raise errors.NotFound(f"Could not find Access Rule: {req.params['access_rule_id']}.")
    return rule


def register(router: Router) -> None:
    base = "/v3/users/{user_id}/application_credentials"
    router.route("POST", base, status=201, schema=CREATE_SCHEMA)(create_app_cred)

    @router.route("GET", base)
    def list_app_creds(req: Req) -> dict:
        user_id = req.params["user_id"]
        req.authorize("identity:list_application_credentials", {"user_id": user_id})
        q = select(ApplicationCredential).where(ApplicationCredential.user_id == user_id)
        if req.query.get("name") is not None:
            q = q.where(ApplicationCredential.name == req.query["name"])
        creds = list(req.db.scalars(q.order_by(ApplicationCredential.name)))
        path = f"/users/{user_id}/application_credentials"
        return collection(req, "application_credentials", _views(req, creds), path)

    @router.route("GET", base + "/{application_credential_id}")
    def get_app_cred(req: Req) -> dict:
        cred = _load(req, "identity:get_application_credential")
        return {"application_credential": _views(req, [cred])[0]}

    @router.route("DELETE", base + "/{application_credential_id}")
    def delete_app_cred(req: Req) -> None:
        cred = _load(req, "identity:delete_application_credential")
        _refuse_restricted(req)
        req.db.execute(delete(AppCredAccessRule).where(AppCredAccessRule.app_cred_id == cred.id))
        req.db.delete(cred)
        store.bump_revision(req.db)  # its tokens stop validating

    rules = "/v3/users/{user_id}/access_rules"

    @router.route("GET", rules)
    def list_access_rules(req: Req) -> dict:
        req.authorize("identity:list_access_rules", _rule_target(req))
        q = select(AccessRule).where(AccessRule.user_id == req.params["user_id"])
        for key in ("service", "path", "method"):
            if req.query.get(key) is not None:
                q = q.where(getattr(AccessRule, key) == req.query[key])
        q = q.order_by(AccessRule.service, AccessRule.method, AccessRule.path)
        items = [_rule_view(req, r) for r in req.db.scalars(q)]
        return collection(
            req, "access_rules", items, f"/users/{req.params['user_id']}/access_rules"
        )

    @router.route("GET", rules + "/{access_rule_id}")
    def get_access_rule(req: Req) -> dict:
        return {"access_rule": _rule_view(req, _load_rule(req, "identity:get_access_rule"))}

    @router.route("DELETE", rules + "/{access_rule_id}")
    def delete_access_rule(req: Req) -> None:
        rule = _load_rule(req, "identity:delete_access_rule")
        used = select(AppCredAccessRule.app_cred_id).where(
            AppCredAccessRule.access_rule_id == rule.id
        )
        if req.db.scalar(used.limit(1)) is not None:
            raise errors.Forbidden("May not delete access rule in use")
        req.db.delete(rule)
