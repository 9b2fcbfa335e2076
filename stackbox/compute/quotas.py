"""Compute quotas (Nova's legacy "DB counting" driver): the resources, their limits
(per user > per project > class "default" > the [quota] config), usage counted from real
rows, and the race-free check.

`check(s, project_id, user_id, deltas)` runs inside the caller's transaction: it first
bumps the project's `quota_locks` row (a row lock on PostgreSQL, the database write lock
on SQLite), so concurrent checks of one project run one after the other; then it counts
what exists and raises `QuotaExceeded` when a delta does not fit. The caller inserts its
rows and commits, which releases the lock. A project's lock row is created on first
use inside the same transaction (INSERT .. ON CONFLICT DO NOTHING), see `lock`.

Nothing about HTTP belongs here except the 403 that `QuotaExceeded` renders as.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stackbox.api import errors
from stackbox.compute import states
from stackbox.compute.models import Instance, KeyPair
from stackbox.compute.opmodels import (
    Quota,
    QuotaClass,
    QuotaLock,
    ServerGroup,
    ServerGroupMember,
)

UNLIMITED = -1
DEFAULT_CLASS = "default"

# The resources stackbox enforces, with Nova's defaults ([quota] config overrides them).
ENFORCED: dict[str, int] = {
    "instances": 10,
    "cores": 20,
    "ram": 51200,
    "key_pairs": 100,
    "metadata_items": 128,
    "server_groups": 10,
    "server_group_members": 10,
}
# Shown by older microversions only; never enforced except the injected-file ones, which
# limit a personality (compute/api/personality.py) before 2.57 (Nova's deprecated quotas).
LEGACY: dict[str, int] = {
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
    "fixed_ips": -1,
    "floating_ips": -1,
    "security_groups": -1,
    "security_group_rules": -1,
}
RESOURCES: tuple[str, ...] = (*ENFORCED, *LEGACY)
NETWORK = ("fixed_ips", "floating_ips", "security_groups", "security_group_rules")
FILES = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")
COUNTED = ("instances", "cores", "ram", "key_pairs", "server_groups")


class QuotaExceeded(errors.Forbidden):
    """A delta that does not fit; a 403 in Nova's words for the resource."""

    def __init__(self, resource: str, requested: Any, used: Any, limit: Any) -> None:
        self.resource, self.requested, self.used, self.limit = resource, requested, used, limit
        super().__init__(message(resource, requested, used, limit))


def message(resource: str, requested: Any, used: Any, limit: Any) -> str:
    """Nova's message per resource (`resource` may be "cores, instances" for several)."""
    if resource == "key_pairs":
        return "Quota exceeded, too many key pairs."
    if resource == "server_groups":
        return "Quota exceeded, too many server groups."
    if resource == "server_group_members":
        return "Quota exceeded, too many servers in group"
    if resource == "metadata_items":
        return f"Maximum number of metadata items exceeds {limit}"
    return (
        f"Quota exceeded for {resource}: Requested {requested}, "
        f"but already used {used} of {limit} {resource}"
    )


# --- limits -------------------------------------------------------------------
def config_defaults(cfg: Any | None) -> dict[str, int]:
    """The [quota] config values (Nova's defaults when there is no config)."""
    out = {**ENFORCED, **LEGACY}
    if cfg is not None:
        for name in (*ENFORCED, *FILES):
            with contextlib.suppress(KeyError):
                out[name] = int(cfg.get("quota", name))
    return out


def class_limits(s: Session, class_name: str, cfg: Any | None = None) -> dict[str, int]:
    """A quota class; resources it does not set fall back to the config defaults."""
    out = config_defaults(cfg)
    if class_name != DEFAULT_CLASS:
        out.update(class_limits(s, DEFAULT_CLASS, cfg))
    rows = s.execute(
        select(QuotaClass.resource, QuotaClass.hard_limit).where(
            QuotaClass.class_name == class_name
        )
    )
    out.update({r: v for r, v in rows if r in out})
    return out


def limits(
    s: Session, project_id: str, user_id: str | None = None, cfg: Any | None = None
) -> dict[str, int]:
    """Effective limits of a project (or of one of its users)."""
    out = class_limits(s, DEFAULT_CLASS, cfg)
    out.update(_rows(s, project_id, ""))
    if user_id:
        out.update(_rows(s, project_id, user_id))
    return out


def _rows(s: Session, project_id: str, user_id: str) -> dict[str, int]:
    rows = s.execute(
        select(Quota.resource, Quota.hard_limit).where(
            Quota.project_id == project_id, Quota.user_id == user_id
        )
    )
    return {r: v for r, v in rows if r in RESOURCES}


def set_limits(s: Session, project_id: str, user_id: str, values: Mapping[str, int]) -> None:
    """Insert or update quota rows of a project (user_id "") or of a user."""
    existing = {
        q.resource: q
        for q in s.scalars(
            select(Quota).where(Quota.project_id == project_id, Quota.user_id == user_id)
        )
    }
    for resource, value in values.items():
        row = existing.get(resource)
        if row is None:
            s.add(
                Quota(project_id=project_id, user_id=user_id, resource=resource, hard_limit=value)
            )
        else:
            row.hard_limit = value
    s.flush()


def set_class(s: Session, class_name: str, values: Mapping[str, int]) -> None:
    existing = {
        q.resource: q
        for q in s.scalars(select(QuotaClass).where(QuotaClass.class_name == class_name))
    }
    for resource, value in values.items():
        row = existing.get(resource)
        if row is None:
            s.add(QuotaClass(class_name=class_name, resource=resource, hard_limit=value))
        else:
            row.hard_limit = value
    s.flush()


def delete_limits(s: Session, project_id: str, user_id: str | None = None) -> None:
    """Back to the defaults: a project's rows (with its users' rows) or one user's."""
    q = s.query(Quota).filter(Quota.project_id == project_id)
    if user_id:
        q = q.filter(Quota.user_id == user_id)
    q.delete(synchronize_session=False)


# --- usage --------------------------------------------------------------------
def _flavor_size(inst_flavor: dict | None, new_flavor: dict | None) -> tuple[int, int]:
    """(vcpus, ram) an instance holds: the larger of its flavors while it resizes."""
    flavors = [f for f in (inst_flavor, new_flavor) if f]
    cores = max((int(f.get("vcpus") or 0) for f in flavors), default=0)
    ram = max((int(f.get("memory_mb") or 0) for f in flavors), default=0)
    return cores, ram


def usage(s: Session, project_id: str, user_id: str | None = None) -> dict[str, int]:
    """What a project (or one user of it) uses now, counted from the rows. Shelved and
    offloaded servers count, as in Nova; soft-deleted ones (queued for deletion) do not,
    so restoring one checks the quota again."""
    q = select(Instance.flavor, Instance.new_flavor).where(
        Instance.project_id == project_id,
        Instance.deleted.is_(False),
        Instance.vm_state != states.SOFT_DELETED,
    )
    g = select(func.count(ServerGroup.id)).where(ServerGroup.project_id == project_id)
    if user_id:
        q = q.where(Instance.user_id == user_id)
        g = g.where(ServerGroup.user_id == user_id)
    instances = cores = ram = 0
    for flavor, new_flavor in s.execute(q):
        c, r = _flavor_size(flavor, new_flavor)
        instances, cores, ram = instances + 1, cores + c, ram + r
    out = {"instances": instances, "cores": cores, "ram": ram, "server_groups": s.scalar(g) or 0}
    out["key_pairs"] = (
        s.scalar(select(func.count(KeyPair.id)).where(KeyPair.user_id == user_id)) or 0
        if user_id
        else 0
    )
    return out


def group_members(s: Session, group_uuid: str) -> int:
    return (
        s.scalar(
            select(func.count(ServerGroupMember.id))
            .join(ServerGroup, ServerGroup.id == ServerGroupMember.group_id)
            .where(ServerGroup.uuid == group_uuid)
        )
        or 0
    )


# --- the lock -----------------------------------------------------------------
def _insert_lock_row(s: Session, project_id: str) -> None:
    """Create the project's lock row, tolerant of a concurrent insert. On SQLite and
    PostgreSQL this is an INSERT .. ON CONFLICT DO NOTHING in the caller's transaction
    (a concurrent inserter waits for ours, then inserts nothing): no second connection,
    which 50 concurrent requests could not all get from the pool while holding one.
    Elsewhere: a separate short transaction that ignores a duplicate."""
    dialect = s.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        mod = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
        stmt = mod.insert(QuotaLock).values(project_id=project_id, generation=0)
        s.execute(stmt.on_conflict_do_nothing(index_elements=["project_id"]))
        return
    with Session(bind=s.get_bind()) as other:
        try:
            other.add(QuotaLock(project_id=project_id, generation=0))
            other.commit()
        except IntegrityError:  # a concurrent request created it
            other.rollback()


def lock(s: Session, project_id: str) -> None:
    """Serialize quota checks of `project_id` until the caller's transaction ends."""
    present = s.scalar(select(QuotaLock.project_id).where(QuotaLock.project_id == project_id))
    if present is None:
        _insert_lock_row(s, project_id)
    s.execute(
        update(QuotaLock)
        .where(QuotaLock.project_id == project_id)
        .values(generation=QuotaLock.generation + 1)
        .execution_options(synchronize_session=False)
    )


# --- the check ----------------------------------------------------------------
def headroom(
    s: Session, project_id: str, user_id: str | None, cfg: Any | None = None
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """(limits, used, room) with the tighter of the project and the user limit."""
    plim, puse = limits(s, project_id, None, cfg), usage(s, project_id)
    ulim = limits(s, project_id, user_id, cfg) if user_id else plim
    uuse = usage(s, project_id, user_id) if user_id else puse
    lim: dict[str, int] = {}
    used: dict[str, int] = {}
    room: dict[str, int] = {}
    for r in COUNTED:
        candidates = []
        if r != "key_pairs":  # key pairs belong to users only
            candidates.append((plim[r], puse[r]))
        if user_id:
            candidates.append((ulim[r], uuse[r]))
        best: tuple[int, int] | None = None
        for limit_, used_ in candidates:
            if limit_ < 0:
                continue
            if best is None or limit_ - used_ < best[0] - best[1]:
                best = (limit_, used_)
        if best is None:
            lim[r], used[r], room[r] = UNLIMITED, (candidates[-1][1] if candidates else 0), 10**12
        else:
            lim[r], used[r], room[r] = best[0], best[1], best[0] - best[1]
    return lim, used, room


def check(
    s: Session,
    project_id: str,
    user_id: str | None,
    deltas: Mapping[str, int],
    *,
    cfg: Any | None = None,
    group_uuid: str | None = None,
) -> None:
    """Lock the project's quota row, count, and raise `QuotaExceeded` if any delta does
    not fit. `deltas` may name instances, cores, ram, key_pairs, server_groups,
    server_group_members (of `group_uuid`) and metadata_items (a count, not a delta)."""
    lock(s, project_id)
    lim, used, room = headroom(s, project_id, user_id, cfg)
    overs = sorted(r for r in COUNTED if deltas.get(r, 0) > 0 and deltas[r] > room[r])
    if overs:
        if overs[0] in ("key_pairs", "server_groups"):
            r = overs[0]
            raise QuotaExceeded(r, deltas[r], used[r], lim[r])
        raise QuotaExceeded(
            ", ".join(overs),
            ", ".join(str(deltas[r]) for r in overs),
            ", ".join(str(used[r]) for r in overs),
            ", ".join(str(lim[r]) for r in overs),
        )
    allowed = limits(s, project_id, user_id, cfg)
    members = deltas.get("server_group_members", 0)
    if members > 0 and group_uuid is not None:
        limit_ = allowed["server_group_members"]
        have = group_members(s, group_uuid)
        if 0 <= limit_ < have + members:
            raise QuotaExceeded("server_group_members", members, have, limit_)
    check_metadata(s, project_id, deltas.get("metadata_items", 0), cfg, allowed)


def check_metadata(
    s: Session,
    project_id: str,
    count: int,
    cfg: Any | None = None,
    allowed: Mapping[str, int] | None = None,
) -> None:
    """metadata_items is a per-server limit, not a counted one (no lock needed)."""
    limit_ = (allowed or limits(s, project_id, None, cfg))["metadata_items"]
    if 0 <= limit_ < count:
        raise QuotaExceeded("metadata_items", count, 0, limit_)


def instances_allowed(
    s: Session,
    project_id: str,
    user_id: str,
    vcpus: int,
    ram: int,
    min_count: int,
    max_count: int,
    cfg: Any | None = None,
) -> int:
    """Nova's multi-create: as many servers as fit up to max_count; QuotaExceeded if not
    even min_count fit (with the whole request's numbers in the message)."""
    lock(s, project_id)
    lim, used, room = headroom(s, project_id, user_id, cfg)
    fit = room["instances"]
    if vcpus > 0:
        fit = min(fit, room["cores"] // vcpus)
    if ram > 0:
        fit = min(fit, room["ram"] // ram)
    if fit >= max_count:
        return max_count
    if fit >= min_count:
        return fit
    requested = str(min_count) if min_count == max_count else f"{min_count}-{max_count}"
    want = {"instances": max_count, "cores": vcpus * max_count, "ram": ram * max_count}
    shown: dict[str, Any] = {**want, "instances": requested}
    overs = sorted(r for r in want if want[r] > room[r] and lim[r] >= 0)
    raise QuotaExceeded(
        ", ".join(overs),
        ", ".join(str(shown[r]) for r in overs),
        ", ".join(str(used[r]) for r in overs),
        ", ".join(str(lim[r]) for r in overs),
    )
