"""/v3/auth: issue, validate and revoke tokens; the caller's catalog, projects, domains.

Password, token and application_credential methods; project-, domain-, system-scoped
and unscoped tokens (unscoped requests fall back to the user's default project, as
Keystone does). An application credential's token is always scoped to its project:
asking for a scope with one, or re-scoping its token, is refused as in Keystone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from starlette.responses import JSONResponse, Response

from stackbox.api import errors
from stackbox.api.context import RequestContext
from stackbox.api.framework import Req, Router
from stackbox.identity import appcreds, catalog, passwords, store
from stackbox.identity.api import trust_auth
from stackbox.identity.api.common import self_link, v3_url
from stackbox.identity.models import ApplicationCredential, Assignment, Domain, Project, User
from stackbox.identity.tokens import lookup_user

_ID_OR_NAME: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "domain": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
        },
    },
}

AUTH_SCHEMA = {
    "type": "object",
    "required": ["auth"],
    "properties": {
        "auth": {
            "type": "object",
            "required": ["identity"],
            "properties": {
                "identity": {
                    "type": "object",
                    "required": ["methods"],
                    "properties": {
                        "methods": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                        "password": {
                            "type": "object",
                            "required": ["user"],
                            "properties": {
                                "user": {
                                    **_ID_OR_NAME,
                                    "required": ["password"],
                                    "properties": {
                                        **_ID_OR_NAME["properties"],
                                        "password": {"type": "string"},
                                    },
                                }
                            },
                        },
                        "token": {
                            "type": "object",
                            "required": ["id"],
                            "properties": {"id": {"type": "string"}},
                        },
                        "application_credential": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "name": {"type": "string"},
                                "secret": {"type": "string"},
                                "user": _ID_OR_NAME,
                            },
                        },
                    },
                },
                "scope": {
                    "oneOf": [
                        {"type": "string", "enum": ["unscoped"]},
                        {
                            "type": "object",
                            "properties": {
                                "project": _ID_OR_NAME,
                                "domain": _ID_OR_NAME,
                                "system": {"type": "object"},
                            },
                        },
                    ]
                },
            },
        }
    },
}


@dataclass
class _Authenticated:
    user: User
    methods: tuple[str, ...]
    prior: RequestContext | None = None  # the token re-scoped by the token method
    app_cred: ApplicationCredential | None = None


def _authenticate(req: Req, ident: dict) -> _Authenticated:
    """Who the identity block proves to be, or 401."""
    methods = tuple(ident["methods"])
    if "password" in methods:
        pw = ident.get("password")
        if not pw:
            raise errors.BadRequest("Invalid input: 'password' is a required property.")
        user = lookup_user(req.db, pw["user"])
        stored = user.password_hash if user else None
        if not passwords.verify_password(stored, pw["user"]["password"]) or user is None:
            raise errors.Unauthorized()
        if not user.enabled or not _domain_enabled(req, user.domain_id):
            raise errors.Unauthorized()
        return _Authenticated(user, ("password",))
    if "token" in methods:
        tok = ident.get("token") or {}
        try:
            ctx = req.state.identity.validate(tok.get("id", ""))
        except errors.NotFound:
            raise errors.Unauthorized() from None
        if ctx.extra.get("trust_id"):
            raise errors.Forbidden(
                "Using trust-scoped token to create another token. "
                "Create a new trust-scoped token instead"
            )
        user = req.db.get(User, ctx.user_id)
        if user is None:
            raise errors.Unauthorized()
        cred = None
        if ctx.application_credential is not None:
            cred = req.db.get(ApplicationCredential, ctx.application_credential["id"])
        methods = tuple(dict.fromkeys([*ctx.methods, "token"]))
        return _Authenticated(user, methods, ctx, cred)
    if "application_credential" in methods:
        ref = ident.get("application_credential")
        if not isinstance(ref, dict):
            raise errors.BadRequest(
                "Invalid input: 'application_credential' is a required property."
            )
        cred, user = appcreds.authenticate(req.db, ref)
        if not _domain_enabled(req, user.domain_id):
            raise errors.Unauthorized()
        return _Authenticated(user, ("application_credential",), app_cred=cred)
    raise errors.Unauthorized(f"Unsupported authentication method: {', '.join(methods)}.")


def _domain_enabled(req: Req, domain_id: str) -> bool:
    d = req.db.get(Domain, domain_id)
    return d is not None and d.enabled


def _domain_from(req: Req, ref: dict) -> Domain | None:
    if ref.get("id"):
        return req.db.get(Domain, ref["id"])
    if ref.get("name"):
        return store.domain_by_name(req.db, ref["name"])
    return None


def _resolve_project(req: Req, ref: dict) -> Project:
    if ref.get("id"):
        project = req.db.get(Project, ref["id"])
    else:
        dom = _domain_from(req, ref.get("domain") or {})
        if not ref.get("name") or dom is None:
            raise errors.Unauthorized("Could not find project: a name needs its domain.")
        project = store.project_by_name(req.db, ref["name"], dom.id)
    if project is None:
        raise errors.Unauthorized(f"Could not find project: {ref.get('id') or ref.get('name')}.")
    if not project.enabled or not _domain_enabled(req, project.domain_id):
        raise errors.Unauthorized(f"Project {project.id} is disabled.")
    return project


def issue_token(req: Req) -> Response:
    auth = req.body["auth"]
    who = _authenticate(req, auth["identity"])
    scope = auth.get("scope")
    if who.app_cred is not None:
        return _issue_app_cred_token(req, who, scope)
    user = who.user
    kw: dict[str, Any] = {}
    if who.prior is not None:
        kw = {"expires_at": who.prior.expires_at, "audit_chain": who.prior.audit_ids}
    if isinstance(scope, dict) and scope.get(trust_auth.TRUST_SCOPE) is not None:
        return trust_auth.issue(req, user, who.methods, scope[trust_auth.TRUST_SCOPE], kw)
    project = domain = None
    system = False
    if isinstance(scope, dict) and scope.get("project") is not None:
        project = _resolve_project(req, scope["project"])
    elif isinstance(scope, dict) and scope.get("domain") is not None:
        domain = _domain_from(req, scope["domain"])
        if domain is None or not domain.enabled:
            raise errors.Unauthorized("Could not find domain.")
    elif isinstance(scope, dict) and scope.get("system") is not None:
        system = True
    elif scope is None and user.default_project_id:
        p = req.db.get(Project, user.default_project_id)
        if p is not None and p.enabled and store.effective_role_ids(req.db, user.id, project=p):
            project = p
    if project is not None and not store.effective_role_ids(req.db, user.id, project=project):
        raise errors.Unauthorized(f"User {user.id} has no access to project {project.id}.")
    if domain is not None and not store.effective_role_ids(req.db, user.id, domain_id=domain.id):
        raise errors.Unauthorized(f"User {user.id} has no access to domain {domain.id}.")
    if system and not store.effective_role_ids(req.db, user.id, system=True):
        raise errors.Unauthorized(f"User {user.id} has no access to the system.")
    svc = req.state.identity
    token, ctx = svc.issue(
        req.db, user, who.methods, project=project, domain=domain, system=system, **kw
    )
    return _token_response(req, token, ctx)


def _issue_app_cred_token(req: Req, who: _Authenticated, scope: Any) -> Response:
    """A token scoped to the credential's project: from the credential itself, or
    from a token of it (the token method, which may not ask for a scope either)."""
    cred = who.app_cred
    assert cred is not None
    if scope is not None and who.prior is None:
        raise errors.Unauthorized(
            "Error authenticating with application credential: Application credentials "
            "cannot request a scope."
        )
    if scope is not None:
        raise errors.Forbidden(
            "You are not authorized to perform the requested action: Using an application "
            "credential token to create a scoped token is not allowed."
        )
    project = req.db.get(Project, cred.project_id) if cred.project_id else None
    if project is None or not project.enabled or not _domain_enabled(req, project.domain_id):
        raise errors.Unauthorized(f"Project {cred.project_id} is disabled.")
    user_roles = store.effective_role_ids(req.db, who.user.id, project=project)
    if not appcreds.token_role_ids(cred, user_roles):
        raise errors.Unauthorized(f"User {who.user.id} has no access to project {project.id}.")
    kw: dict[str, Any] = {}
    if who.prior is not None:
        kw = {"expires_at": who.prior.expires_at, "audit_chain": who.prior.audit_ids}
    token, ctx = req.state.identity.issue(
        req.db, who.user, who.methods, project=project, app_cred=cred, **kw
    )
    return _token_response(req, token, ctx)


def _token_response(req: Req, token: str, ctx: RequestContext) -> Response:
    body = req.state.identity.token_body(req.db, ctx, with_catalog="nocatalog" not in req.query)
    return JSONResponse(body, status_code=201, headers={"X-Subject-Token": token})


def _subject(req: Req, action: str) -> tuple[str, Any]:
    token = req.headers.get("x-subject-token")
    if not token:
        raise errors.NotFound("Could not find token: the X-Subject-Token header is missing.")
    ctx = req.state.identity.validate(token)
    req.authorize(action, {"target": {"token": {"user_id": ctx.user_id}}})
    return token, ctx


def register(router: Router) -> None:
    router.route("POST", "/v3/auth/tokens", auth=False, schema=AUTH_SCHEMA)(issue_token)

    @router.route("GET", "/v3/auth/tokens")
    def validate_token(req: Req) -> Response:
        action = "identity:check_token" if req.raw.method == "HEAD" else "identity:validate_token"
        token, ctx = _subject(req, action)
        body = req.state.identity.token_body(req.db, ctx, with_catalog="nocatalog" not in req.query)
        return JSONResponse(body, headers={"X-Subject-Token": token})

    @router.route("DELETE", "/v3/auth/tokens")
    def revoke_token(req: Req) -> None:
        token, _ctx = _subject(req, "identity:revoke_token")
        req.state.identity.revoke(token)

    @router.route("GET", "/v3/auth/catalog")
    def auth_catalog(req: Req) -> dict:
        if req.context.scope == "unscoped":
            raise errors.Forbidden("A catalog needs a scoped token.")
        return {
            "catalog": catalog.token_catalog(req.db),
            "links": {"self": v3_url(req, "/auth/catalog")},
        }

    @router.route("GET", "/v3/auth/projects")
    def auth_projects(req: Req) -> dict:
        return {
            "projects": [_project_brief(req, p) for p in _my_projects(req)],
            "links": {"self": v3_url(req, "/auth/projects"), "previous": None, "next": None},
        }

    @router.route("GET", "/v3/auth/domains")
    def auth_domains(req: Req) -> dict:
        ctx = req.context
        actors = [ctx.user_id, *store.user_group_ids(req.db, ctx.user_id)]
        ids = set(
            req.db.scalars(
                select(Assignment.target_id).where(
                    Assignment.actor_id.in_(actors),
                    Assignment.type.in_((store.USER_DOMAIN, store.GROUP_DOMAIN)),
                )
            )
        )
        doms = req.db.scalars(select(Domain).where(Domain.id.in_(ids), Domain.enabled.is_(True)))
        return {
            "domains": [
                {
                    "id": d.id,
                    "name": d.name,
                    "description": d.description or "",
                    "enabled": d.enabled,
                    "links": self_link(req, "domains", d.id),
                }
                for d in doms
            ],
            "links": {"self": v3_url(req, "/auth/domains"), "previous": None, "next": None},
        }

    @router.route("GET", "/v3/auth/system")
    def auth_system(req: Req) -> dict:
        ok = bool(store.effective_role_ids(req.db, req.context.user_id, system=True))
        return {
            "system": [{"all": True}] if ok else [],
            "links": {"self": v3_url(req, "/auth/system"), "previous": None, "next": None},
        }


def _my_projects(req: Req) -> list[Project]:
    """Enabled projects where the caller holds a role: directly or through a group,
    or inherited from the project's domain or an ancestor project."""
    ctx = req.context
    actors = [ctx.user_id, *store.user_group_ids(req.db, ctx.user_id)]
    rows = req.db.execute(
        select(Assignment.target_id, Assignment.inherited).where(
            Assignment.actor_id.in_(actors),
            Assignment.type.in_(
                (store.USER_PROJECT, store.GROUP_PROJECT, store.USER_DOMAIN, store.GROUP_DOMAIN)
            ),
        )
    ).all()
    direct = {t for t, inherited in rows if not inherited}
    inherited = {t for t, inh in rows if inh}
    projects = list(
        req.db.scalars(select(Project).where(Project.enabled.is_(True)).order_by(Project.name))
    )
    by_id = {p.id: p for p in projects}

    def reachable(p: Project) -> bool:
        if p.id in direct or p.domain_id in inherited:
            return True
        parent, seen = p.parent_id, set()
        while parent and parent in by_id and parent not in seen:
            if parent in inherited:
                return True
            seen.add(parent)
            parent = by_id[parent].parent_id
        return False

    return [p for p in projects if reachable(p)]


def _project_brief(req: Req, p: Project) -> dict:
    return {
        "id": p.id,
        "name": p.name,
        "domain_id": p.domain_id,
        "description": p.description or "",
        "enabled": p.enabled,
        "parent_id": p.parent_id,
        "is_domain": False,
        "tags": list(p.tags or []),
        "options": {},
        "links": self_link(req, "projects", p.id),
    }
