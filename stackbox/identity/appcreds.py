"""Application credentials as data: secrets, lookup for authentication, the roles a
credential's token carries, and what a token says about its credential. Takes a
Session, returns rows or plain data; the HTTP handlers are in `api/app_credentials.py`.
"""

from __future__ import annotations

import base64
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from stackbox.api import errors
from stackbox.db.base import utcnow
from stackbox.identity import passwords, store
from stackbox.identity.models import (
    AccessRule,
    AppCredAccessRule,
    ApplicationCredential,
    Project,
    User,
)

AUTH_FAILED = "Invalid application credential ID or secret"


def new_secret() -> str:
    """64 random bytes, URL-safe base64 without padding (Keystone's generated secret)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(64)).decode().rstrip("=")


def is_expired(cred: ApplicationCredential) -> bool:
    return cred.expires_at is not None and cred.expires_at <= utcnow()


def rules_of(s: Session, cred_ids: list[str]) -> dict[str, list[AccessRule]]:
    """The access rules of each credential that has any, in one query."""
    out: dict[str, list[AccessRule]] = {}
    if not cred_ids:
        return out
    rows = s.execute(
        select(AppCredAccessRule.app_cred_id, AccessRule)
        .join(AccessRule, AccessRule.id == AppCredAccessRule.access_rule_id)
        .where(AppCredAccessRule.app_cred_id.in_(cred_ids))
        .order_by(AccessRule.service, AccessRule.method, AccessRule.path)
    )
    for cred_id, rule in rows:
        out.setdefault(cred_id, []).append(rule)
    return out


def rule_view(rule: AccessRule) -> dict:
    return {"id": rule.id, "service": rule.service, "path": rule.path, "method": rule.method}


def _owner(s: Session, ref: dict) -> User | None:
    """The `user` of a by-name credential reference: by id, or by name and domain."""
    if ref.get("id"):
        return s.get(User, ref["id"])
    dom: dict = ref["domain"] if isinstance(ref.get("domain"), dict) else {}
    domain_id = dom.get("id")
    if not domain_id and dom.get("name"):
        d = store.domain_by_name(s, dom["name"])
        domain_id = d.id if d else None
    if not domain_id or not ref.get("name"):
        return None
    return store.user_by_name(s, ref["name"], domain_id)


def _lookup(s: Session, ref: dict) -> ApplicationCredential | None:
    if ref.get("id"):
        return s.get(ApplicationCredential, ref["id"])
    if not ref.get("name"):
        raise errors.BadRequest(
            "Expecting to find name or ID in application credential - the server could not "
            "comply with the request since it is either malformed or otherwise incorrect."
        )
    if not isinstance(ref.get("user"), dict):
        raise errors.BadRequest(
            "Expecting to find user in application credential - the server could not comply "
            "with the request since it is either malformed or otherwise incorrect."
        )
    user = _owner(s, ref["user"])
    if user is None:
        return None
    return s.scalar(
        select(ApplicationCredential).where(
            ApplicationCredential.user_id == user.id, ApplicationCredential.name == ref["name"]
        )
    )


def authenticate(s: Session, ref: dict) -> tuple[ApplicationCredential, User]:
    """The credential (by id, or by name and its user) and its enabled owner, or 401.
    The secret is checked with the password KDF even when no credential matches."""
    cred = _lookup(s, ref)
    stored = cred.secret_hash if cred is not None else None
    if not passwords.verify_password(stored, str(ref.get("secret") or "")) or cred is None:
        raise errors.Unauthorized(AUTH_FAILED)
    if is_expired(cred):
        raise errors.Unauthorized(AUTH_FAILED)
    user = s.get(User, cred.user_id)
    if user is None or not user.enabled:
        raise errors.Unauthorized(AUTH_FAILED)
    return cred, user


def token_role_ids(cred: ApplicationCredential, user_role_ids: set[str]) -> set[str]:
    """The roles a token from `cred` carries: the credential's roles the user still
    holds on the project (Keystone intersects them at every validation)."""
    return set(cred.role_ids or ()) & user_role_ids


def token_info(s: Session, cred: ApplicationCredential) -> dict:
    """The `application_credential` object of a token body (also kept in the request
    context, where its access rules are enforced)."""
    rules = rules_of(s, [cred.id]).get(cred.id)
    return {
        "id": cred.id,
        "name": cred.name,
        "restricted": not cred.unrestricted,
        "access_rules": [rule_view(r) for r in rules] if rules else None,
    }


def user_role_ids(s: Session, user: User, project_id: str | None) -> set[str]:
    """The user's effective roles on the credential's project now."""
    if project_id is None:
        return set()
    project = s.get(Project, project_id)
    if project is None or not project.enabled:
        return set()
    return store.effective_role_ids(s, user.id, project=project)


def purge_for_users(s: Session, user_ids: list[str]) -> None:
    """Delete the users' credentials and access rules (Keystone does on user deletion)."""
    creds = select(ApplicationCredential.id).where(ApplicationCredential.user_id.in_(user_ids))
    s.execute(delete(AppCredAccessRule).where(AppCredAccessRule.app_cred_id.in_(creds)))
    s.execute(delete(ApplicationCredential).where(ApplicationCredential.user_id.in_(user_ids)))
    s.execute(delete(AccessRule).where(AccessRule.user_id.in_(user_ids)))
