"""Trust rules shared by the OS-TRUST API and the token service: which trusts are still
usable, which roles a trust-scoped token carries, and spending one of a trust's uses.
Takes a Session, returns rows or plain data; no HTTP here (errors are the API's own
exceptions, raised where Keystone raises them)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from stackbox.api import errors
from stackbox.identity import store
from stackbox.identity.models import Domain, Project, User
from stackbox.identity.models_extra import Trust, TrustRole


def usable(s: Session, trust_id: str, *, count_uses: bool = True) -> Trust | None:
    """The trust, unless it is missing, expired or (`count_uses`) used up: Keystone
    answers "not found" for all three."""
    t = s.get(Trust, trust_id)
    if t is None:
        return None
    if t.expires_at is not None and t.expires_at <= store.utcnow():
        return None
    if count_uses and t.remaining_uses is not None and t.remaining_uses <= 0:
        return None
    return t


def role_ids(s: Session, t: Trust) -> list[str]:
    return list(s.scalars(select(TrustRole.role_id).where(TrustRole.trust_id == t.id)))


def delegated_role_ids(s: Session, t: Trust) -> set[str]:
    """The trust's roles (with the roles they imply) that the trustor still holds on the
    trust's project: what a trust-scoped token carries."""
    project = s.get(Project, t.project_id) if t.project_id else None
    if project is None:
        return set()
    wanted = store.expand_implied(s, set(role_ids(s, t)))
    return wanted & store.effective_role_ids(s, t.trustor_user_id, project=project)


def consume_use(s: Session, t: Trust) -> None:
    """Spend one use of a limited trust, atomically (a concurrent use of the last one
    fails with 401 as an unknown trust)."""
    if t.remaining_uses is None:
        return
    done = s.execute(
        update(Trust)
        .where(Trust.id == t.id, Trust.remaining_uses == t.remaining_uses)
        .values(remaining_uses=Trust.remaining_uses - 1)
        .execution_options(synchronize_session=False)
    )
    if not getattr(done, "rowcount", 0):
        raise errors.Unauthorized(f"Could not find trust: {t.id}.")


@dataclass(frozen=True)
class TrustScope:
    """What a trust-scoped token stands for."""

    trust: Trust
    user: User  # who the token shows: the trustor when impersonating, else the trustee
    project: Project
    role_ids: set[str]

    def body(self) -> dict:
        return {
            "id": self.trust.id,
            "trustor_user": {"id": self.trust.trustor_user_id},
            "trustee_user": {"id": self.trust.trustee_user_id},
            "impersonation": self.trust.impersonation,
        }


def _enabled_user(s: Session, user_id: str) -> User | None:
    user = s.get(User, user_id)
    if user is None or not user.enabled:
        return None
    dom = s.get(Domain, user.domain_id)
    return user if dom is not None and dom.enabled else None


def scope(s: Session, trust_id: str, trustee_id: str, *, issuing: bool = True) -> TrustScope:
    """The scope of a token that `trustee_id` gets through a trust; 401 when the trust
    cannot be used, 403 when the caller is not its trustee or no role is left. A token
    issued with a trust's last use stays valid (`issuing=False`) until it expires or
    the trust is deleted (Keystone would refuse to validate it)."""
    t = usable(s, trust_id, count_uses=issuing)
    if t is None:
        raise errors.Unauthorized(f"Could not find trust: {trust_id}.")
    if t.trustee_user_id != trustee_id:
        raise errors.Forbidden("User is not a trustee.")
    trustor, trustee = _enabled_user(s, t.trustor_user_id), _enabled_user(s, trustee_id)
    if trustor is None or trustee is None:
        raise errors.Forbidden("Trustor is disabled.")
    project = s.get(Project, t.project_id) if t.project_id else None
    if project is None or not project.enabled:
        raise errors.Unauthorized(f"Could not find project: {t.project_id}.")
    roles = delegated_role_ids(s, t)
    if not roles:
        raise errors.Forbidden("Trustee has no delegated roles.")
    return TrustScope(t, trustor if t.impersonation else trustee, project, roles)
