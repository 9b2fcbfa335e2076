"""Implied roles (role inference rules), as Keystone serves them:

    PUT|GET|HEAD|DELETE /v3/roles/{prior_role_id}/implies/{implied_role_id}
    GET                 /v3/roles/{prior_role_id}/implies
    GET                 /v3/role_inferences

Whoever holds the prior role holds the implied one too, transitively: tokens and the
effective role assignment list expand them (`store.expand_implied`). Like Keystone,
`admin` can never be implied, a global role cannot imply a domain-specific one, and a
cycle of rules is allowed (expansion walks it once). Every change bumps the identity
revision, so live tokens get the new roles at once.
"""

from __future__ import annotations

from sqlalchemy import select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.identity import store
from stackbox.identity.api.common import flush_or_conflict, not_found, v3_url
from stackbox.identity.models import ImpliedRole, Role

# Keystone's `[assignment] prohibited_implied_role` default.
PROHIBITED_IMPLIED = ("admin",)


def _brief(req: Req, role: Role) -> dict:
    return {"id": role.id, "links": {"self": v3_url(req, f"/roles/{role.id}")}, "name": role.name}


def _roles(req: Req, action: str) -> tuple[Role, Role | None]:
    """The prior (and implied) role of the path, 404 when missing, then policy."""
    p = req.params
    prior = req.db.get(Role, p["prior_role_id"])
    if prior is None:
        raise not_found("role", p["prior_role_id"])
    implied = None
    if "implied_role_id" in p:
        implied = req.db.get(Role, p["implied_role_id"])
        if implied is None:
            raise not_found("role", p["implied_role_id"])
    target: dict = {"prior_role": {"id": prior.id, "domain_id": prior.domain_id}}
    if implied is not None:
        target["implied_role"] = {"id": implied.id, "domain_id": implied.domain_id}
    req.authorize(action, {"target": target})
    return prior, implied


def _rule(req: Req, prior: Role, implied: Role) -> ImpliedRole:
    row = req.db.get(ImpliedRole, (prior.id, implied.id))
    if row is None:
        raise errors.NotFound(f"{prior.id} does not imply {implied.id}.")
    return row


def _one(req: Req, prior: Role, implied: Role) -> dict:
    return {
        "role_inference": {"prior_role": _brief(req, prior), "implies": _brief(req, implied)},
        "links": {"self": v3_url(req, f"/roles/{prior.id}/implies/{implied.id}")},
    }


def create_rule(req: Req) -> tuple[dict, int]:
    prior, implied = _roles(req, "identity:create_implied_role")
    assert implied is not None
    if implied.name in PROHIBITED_IMPLIED:
        raise errors.Forbidden(f"{implied.id} cannot be an implied roles.")
    if prior.domain_id is None and implied.domain_id is not None:
        raise errors.Forbidden("Global role cannot imply a domain-specific role")
    if req.db.get(ImpliedRole, (prior.id, implied.id)) is not None:
        raise _duplicate()
    req.db.add(ImpliedRole(prior_role_id=prior.id, implied_role_id=implied.id))
    flush_or_conflict(req, _duplicate)
    store.bump_revision(req.db)
    return _one(req, prior, implied), 201


def _duplicate() -> errors.Conflict:
    return errors.Conflict("Conflict occurred attempting to store implied_role - Duplicate entry.")


def register(router: Router) -> None:
    member = "/v3/roles/{prior_role_id}/implies/{implied_role_id}"
    router.route("PUT", member)(create_rule)

    @router.route("GET", member)
    def get_rule(req: Req) -> dict:
        prior, implied = _roles(req, "identity:get_implied_role")
        assert implied is not None
        _rule(req, prior, implied)
        return _one(req, prior, implied)

    @router.route("HEAD", member, status=204)
    def check_rule(req: Req) -> None:
        prior, implied = _roles(req, "identity:check_implied_role")
        assert implied is not None
        _rule(req, prior, implied)

    @router.route("DELETE", member)
    def delete_rule(req: Req) -> None:
        prior, implied = _roles(req, "identity:delete_implied_role")
        assert implied is not None
        req.db.delete(_rule(req, prior, implied))
        store.bump_revision(req.db)

    @router.route("GET", "/v3/roles/{prior_role_id}/implies")
    def list_implied(req: Req) -> dict:
        prior, _ = _roles(req, "identity:list_implied_roles")
        ids = select(ImpliedRole.implied_role_id).where(ImpliedRole.prior_role_id == prior.id)
        implied = req.db.scalars(select(Role).where(Role.id.in_(ids)).order_by(Role.name))
        return {
            "role_inference": {
                "prior_role": _brief(req, prior),
                "implies": [_brief(req, r) for r in implied],
            },
            "links": {"self": v3_url(req, f"/roles/{prior.id}/implies")},
        }

    @router.route("GET", "/v3/role_inferences")
    def list_inferences(req: Req) -> dict:
        req.authorize("identity:list_role_inference_rules", {})
        rules = store.implication_rules(req.db)
        ids = set(rules) | {i for implied in rules.values() for i in implied}
        roles = {r.id: r for r in req.db.scalars(select(Role).where(Role.id.in_(ids)))}
        return {
            "role_inferences": [
                {
                    "prior_role": _brief(req, roles[prior]),
                    "implies": [_brief(req, roles[i]) for i in sorted(implied)],
                }
                for prior, implied in sorted(rules.items())
            ]
        }
