"""The life of a migration record (Nova's `migrations` rows; the table is
`opmodels.Migration`): plain functions over a Session, used by the API, the conductor
and (through the conductor) the compute hosts.

A resize moves its record through Nova's statuses:

    resize (API)            pre-migrating   the conductor then claims the new flavor
    compute resize_instance migrating → post-migrating (disks backed up) → finished
    confirmResize (API)     confirming → confirmed (conductor, with the source claim freed)
    revertResize (API)      reverting  → reverted  (compute, once the old guest is back)
    any failure             error      (a crash too: `fail_stuck` at the host's start)

While a move is in progress the source side's claim is held by consumer
`migration:<record uuid>` (one id for both). Resizes from before the table have their
claim `migration:<instance uuid>` and a record with that uuid (migration 0011).
Not here: who calls what when (conductor/build.py, compute/resize.py), the API's views.
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from stackbox.compute.models import Allocation, ComputeNode, Flavor, Instance
from stackbox.compute.opmodels import Migration
from stackbox.db.base import utcnow
from stackbox.scheduler import claims

LOG = logging.getLogger(__name__)

TYPES = ("migration", "resize", "live-migration", "evacuation")
# A move still under way (Nova's resize and live-migration steps); `finished` waits
# for a confirm or a revert.
IN_PROGRESS = frozenset(
    {
        "pre-migrating",
        "migrating",
        "post-migrating",
        "finished",
        "confirming",
        "reverting",
        "accepted",
        "queued",
        "preparing",
        "running",
    }
)
# Steps where a service was working on it: one that stopped there will not go on.
STUCK = IN_PROGRESS - {"finished"}
# The status a step moves to -> the statuses it may come from. A status missing here
# cannot be set by `advance` (fail closed).
FROM: dict[str, frozenset[str]] = {
    "migrating": frozenset({"pre-migrating"}),
    "post-migrating": frozenset({"migrating"}),
    "finished": frozenset({"post-migrating"}),
    "confirming": frozenset({"finished"}),
    "confirmed": frozenset({"confirming"}),
    "reverting": frozenset({"finished"}),
    "reverted": frozenset({"reverting"}),
    "error": IN_PROGRESS,
}


def consumer(migration_uuid: str) -> str:
    """The claims consumer of a move's source side."""
    return f"migration:{migration_uuid}"


def _flavor_id(s: Session, flavor: dict[str, Any] | None) -> int | None:
    ref = (flavor or {}).get("flavorid")
    if ref is None:
        return None
    return s.scalar(select(Flavor.id).where(Flavor.flavorid == str(ref)))


def create_resize(
    s: Session, inst: Instance, old_flavor: dict[str, Any], new_flavor: dict[str, Any]
) -> Migration:
    """A `pre-migrating` resize of `inst` from its host; the destination is recorded
    once the conductor has claimed it (`set_destination`)."""
    row = Migration(
        uuid=str(uuidlib.uuid4()),
        source_compute=inst.host,
        source_node=inst.node,
        old_instance_type_id=_flavor_id(s, old_flavor),
        new_instance_type_id=_flavor_id(s, new_flavor),
        status="pre-migrating",
        migration_type="resize",
        instance_uuid=inst.uuid,
        user_id=inst.user_id,
        project_id=inst.project_id,
    )
    s.add(row)
    s.flush()
    return row


def current(s: Session, instance_uuid: str) -> Migration | None:
    """The instance's move in progress (the newest, should a crash have left two)."""
    return s.scalar(
        select(Migration)
        .where(
            Migration.instance_uuid == instance_uuid,
            Migration.deleted.is_(False),
            Migration.status.in_(sorted(IN_PROGRESS)),
        )
        .order_by(Migration.id.desc())
        .limit(1)
    )


def set_destination(s: Session, migration_uuid: str, host: str, node: str | None) -> None:
    """Where the move goes (Nova's dest_compute/dest_node, dest_host the host's IP)."""
    ip = s.scalar(select(ComputeNode.host_ip).where(ComputeNode.host == host))
    s.execute(
        update(Migration)
        .where(Migration.uuid == migration_uuid)
        .values(dest_compute=host, dest_node=node or host, dest_host=ip, updated_at=utcnow())
    )


def advance(s: Session, instance_uuid: str, status: str) -> str | None:
    """Move the instance's migration to `status` if it is at a step that leads there
    (one conditional UPDATE); returns its uuid, or None when none was (a resize from
    before the table, or a racing step won)."""
    if status not in FROM:
        raise ValueError(f"a migration cannot be moved to {status!r}")
    mig = s.scalar(
        select(Migration)
        .where(
            Migration.instance_uuid == instance_uuid,
            Migration.deleted.is_(False),
            Migration.status.in_(sorted(FROM[status])),
        )
        .order_by(Migration.id.desc())
        .limit(1)
    )
    if mig is None:
        LOG.info("instance %s has no migration to move to %s", instance_uuid, status)
        return None
    done = s.execute(
        update(Migration)
        .where(Migration.id == mig.id, Migration.status == mig.status)
        .values(status=status, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return None
    s.expire(mig)
    return mig.uuid


def fail_stuck(s: Session, instance_uuid: str) -> str | None:
    """After a crash: the instance's migration left mid-step goes to `error`, as Nova
    errors a migration its service stopped working on. Returns its uuid, or None."""
    mig = current(s, instance_uuid)
    if mig is None or mig.status not in STUCK:
        return None
    LOG.warning("migration %s of instance %s was %s: now error", mig.uuid, instance_uuid,
                mig.status)  # fmt: skip
    mig.status, mig.updated_at = "error", utcnow()
    s.flush()
    return mig.uuid


def held_consumer(s: Session, instance_uuid: str) -> str | None:
    """The `migration:<uuid>` consumer holding the source side of the instance's move
    (the newest of its migrations that holds a claim), or None."""
    uuids = s.scalars(
        select(Migration.uuid)
        .where(Migration.instance_uuid == instance_uuid)
        .order_by(Migration.id.desc())
    ).all()
    wanted = [consumer(u) for u in uuids]
    if not wanted:
        return None
    held = set(s.scalars(select(Allocation.consumer_id).where(Allocation.consumer_id.in_(wanted))))
    return next((c for c in wanted if c in held), None)


def forget(s: Session, instance_uuid: str) -> None:
    """The instance is gone: free what any of its moves still holds and soft-delete
    its records (Nova's instance_destroy; the list no longer shows them)."""
    uuids = s.scalars(select(Migration.uuid).where(Migration.instance_uuid == instance_uuid))
    for held in [consumer(u) for u in uuids] + [consumer(instance_uuid)]:
        claims.release(s, held, owner=instance_uuid)
    now = utcnow()
    s.execute(
        update(Migration)
        .where(Migration.instance_uuid == instance_uuid, Migration.deleted.is_(False))
        .values(deleted=True, deleted_at=now)
        .execution_options(synchronize_session=False)
    )
