"""Identity queries shared by the API handlers and the token service: effective roles
(implied roles included), lookups by name, the revision counter and revocations. Takes
a Session, returns rows or plain data; no HTTP here."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from stackbox.db.base import utcnow
from stackbox.identity.models import (
    Assignment,
    Domain,
    GroupMembership,
    IdentityRevision,
    ImpliedRole,
    Project,
    RevocationEvent,
    Role,
    User,
)

USER_PROJECT, GROUP_PROJECT = "UserProject", "GroupProject"
USER_DOMAIN, GROUP_DOMAIN = "UserDomain", "GroupDomain"
USER_SYSTEM, GROUP_SYSTEM = "UserSystem", "GroupSystem"
SYSTEM_ALL = "system"  # target_id of system assignments


def user_group_ids(s: Session, user_id: str) -> list[str]:
    return list(
        s.scalars(select(GroupMembership.group_id).where(GroupMembership.user_id == user_id))
    )


def effective_role_ids(
    s: Session,
    user_id: str,
    *,
    project: Project | None = None,
    domain_id: str | None = None,
    system: bool = False,
) -> set[str]:
    """Role ids the user holds on a project (direct, via groups, or inherited from the
    project's domain), on a domain, or on the system."""
    actors = [user_id, *user_group_ids(s, user_id)]
    conds = []
    if project is not None:
        conds.append(
            (Assignment.type.in_((USER_PROJECT, GROUP_PROJECT)))
            & (Assignment.target_id == project.id)
            & (Assignment.inherited.is_(False))
        )
        # Inherited assignments on the owning domain or on parent projects apply.
        parents = [project.domain_id, *_ancestors(s, project)]
        conds.append((Assignment.target_id.in_(parents)) & (Assignment.inherited.is_(True)))
    elif domain_id is not None:
        conds.append(
            (Assignment.type.in_((USER_DOMAIN, GROUP_DOMAIN)))
            & (Assignment.target_id == domain_id)
            & (Assignment.inherited.is_(False))
        )
    elif system:
        conds.append(
            (Assignment.type.in_((USER_SYSTEM, GROUP_SYSTEM)))
            & (Assignment.target_id == SYSTEM_ALL)
        )
    else:
        return set()
    q = select(Assignment.role_id).where(Assignment.actor_id.in_(actors), or_(*conds))
    direct = set(s.scalars(q))
    return expand_implied(s, direct)


def _ancestors(s: Session, project: Project) -> list[str]:
    out: list[str] = []
    parent = project.parent_id
    seen = {project.id}
    while parent and parent not in seen and parent != project.domain_id:
        seen.add(parent)
        out.append(parent)
        parent = s.scalar(select(Project.parent_id).where(Project.id == parent))
    return out


def implication_rules(s: Session) -> dict[str, list[str]]:
    """Every role inference rule as {prior role id: [implied role ids]}."""
    out: dict[str, list[str]] = {}
    rows = s.execute(select(ImpliedRole.prior_role_id, ImpliedRole.implied_role_id))
    for prior, implied in rows:
        out.setdefault(prior, []).append(implied)
    return out


def implied_closure(rules: dict[str, list[str]], role_ids: set[str]) -> set[str]:
    """The roles plus all they imply, transitively. A cycle (Keystone allows them) is
    walked once."""
    out = set(role_ids)
    todo = list(role_ids)
    while todo:
        for implied in rules.get(todo.pop(), ()):
            if implied not in out:
                out.add(implied)
                todo.append(implied)
    return out


def expand_implied(s: Session, role_ids: set[str]) -> set[str]:
    """Effective roles: the implied ones added, domain-specific roles left out (as
    Keystone does: they only ever confer the global roles they imply)."""
    if not role_ids:
        return role_ids
    out = implied_closure(implication_rules(s), role_ids)
    local = s.scalars(select(Role.id).where(Role.id.in_(out), Role.domain_id.is_not(None)))
    return out - set(local)


def roles_by_ids(s: Session, ids: set[str]) -> list[Role]:
    if not ids:
        return []
    return list(s.scalars(select(Role).where(Role.id.in_(ids)).order_by(Role.name)))


def domain_by_name(s: Session, name: str) -> Domain | None:
    return s.scalar(select(Domain).where(Domain.name == name))


def user_by_name(s: Session, name: str, domain_id: str) -> User | None:
    return s.scalar(select(User).where(User.name == name, User.domain_id == domain_id))


def project_by_name(s: Session, name: str, domain_id: str) -> Project | None:
    return s.scalar(select(Project).where(Project.name == name, Project.domain_id == domain_id))


def role_by_name(s: Session, name: str) -> Role | None:
    return s.scalar(select(Role).where(Role.name == name, Role.domain_id.is_(None)))


# Revision and revocation ---------------------------------------------------------------


def bump_revision(s: Session) -> None:
    """Record that identity data changed; every API process drops its token cache."""
    result: Any = s.execute(
        update(IdentityRevision)
        .where(IdentityRevision.id == 1)
        .values(revision=IdentityRevision.revision + 1)
    )
    n = result.rowcount
    if not n:
        s.add(IdentityRevision(id=1, revision=1))
    s.info["identity_changed"] = True


def current_revision(s: Session) -> int:
    return s.scalar(select(IdentityRevision.revision).where(IdentityRevision.id == 1)) or 0


def revoke(
    s: Session,
    *,
    audit_id: str | None = None,
    user_id: str | None = None,
    project_id: str | None = None,
    expires_in: int = 3600,
) -> None:
    """Invalidate tokens issued until now: one (audit id), a user's, or a project's."""
    now = utcnow()
    s.add(
        RevocationEvent(
            audit_id=audit_id,
            user_id=user_id,
            project_id=project_id,
            issued_before=now,
            expires_at=now + dt.timedelta(seconds=expires_in),
        )
    )
    s.execute(delete(RevocationEvent).where(RevocationEvent.expires_at < now))
    bump_revision(s)


def is_revoked(
    s: Session,
    *,
    audit_ids: tuple[str, ...],
    user_id: str,
    project_id: str | None,
    issued_at: dt.datetime,
) -> bool:
    conds = [
        RevocationEvent.audit_id.in_(audit_ids),
        (RevocationEvent.user_id == user_id) & RevocationEvent.audit_id.is_(None),
    ]
    if project_id:
        conds.append(
            (RevocationEvent.project_id == project_id)
            & RevocationEvent.user_id.is_(None)
            & RevocationEvent.audit_id.is_(None)
        )
    q = (
        select(RevocationEvent.id)
        .where(or_(*conds), RevocationEvent.issued_before >= issued_at)
        .limit(1)
    )
    return s.scalar(q) is not None


# Read cache -----------------------------------------------------------------------------


class EntityCache:
    """Per-process read-through cache of identity rows by id, as read-only snapshots
    (SimpleNamespace of the columns). Keystone memoizes these reads the same way.
    Cleared with the token cache whenever the identity revision moves, so a change made
    through another API process shows within `revision_check_interval`."""

    MAX = 10000

    def __init__(self) -> None:
        self._data: dict[tuple[type, str], SimpleNamespace | None] = {}
        self._generation = 0  # moves on every clear()
        self._lock = threading.Lock()

    def get(self, session: Callable[[], Session], model: type, key: str) -> SimpleNamespace | None:
        """The row of `model` with primary key `key`; `session()` is called only on a
        miss (so a hit opens no database session at all)."""
        hit = self._data.get((model, key), _MISS)
        if hit is not _MISS:
            return hit  # type: ignore[return-value]
        generation = self._generation
        row = session().get(model, key)
        snap = (
            None
            if row is None
            else SimpleNamespace(**{c.key: getattr(row, c.key) for c in model.__table__.columns})
        )
        # A write that committed while we read may have cleared the cache after our
        # read began: then our copy may be stale, so it is not kept.
        with self._lock:
            if len(self._data) >= self.MAX:
                self._data.clear()
            if generation == self._generation:
                self._data[(model, key)] = snap
        return snap

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._data.clear()


_MISS = object()
CACHE = EntityCache()
