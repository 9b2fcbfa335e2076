"""claim_queued_deletes: the conductor hands a compute host its SOFT_DELETED instances
whose interval has passed, each moved to task_state deleting so a restore cannot race
the reclaim; younger ones, other hosts' and ones with a task stay as they are."""

from __future__ import annotations

import datetime as dt

from stackbox.compute import states
from stackbox.compute.models import Instance
from stackbox.conductor import instances as ci
from stackbox.db import Database
from stackbox.db.base import utcnow
from tests.conductor.test_instances import db, make_instance  # noqa: F401  (fixture)


def row(db: Database, uid: str) -> Instance:  # noqa: F811
    with db.session() as s:
        inst = s.query(Instance).filter_by(uuid=uid).one()
        s.expunge(inst)
        return inst


def test_only_due_soft_deleted_instances_of_the_host_are_claimed(db: Database) -> None:  # noqa: F811
    old = utcnow() - dt.timedelta(seconds=120)
    soft = {"vm_state": states.SOFT_DELETED, "task_state": None}
    due = make_instance(db, deleted_at=old, **soft)
    young = make_instance(db, deleted_at=utcnow(), **soft)
    elsewhere = make_instance(db, deleted_at=old, **{**soft, "host": "h2"})
    restoring = make_instance(db, deleted_at=old, **{**soft, "task_state": states.RESTORING})
    active = make_instance(db, vm_state=states.ACTIVE, task_state=None)
    with db.session() as s:
        claimed = ci.claim_queued_deletes(s, "h1", 60.0)
    assert [p["uuid"] for p in claimed] == [due]
    assert claimed[0]["task_state"] == states.DELETING
    assert row(db, due).task_state == states.DELETING
    for uid in (young, elsewhere):
        assert row(db, uid).task_state is None
    assert row(db, restoring).task_state == states.RESTORING
    assert row(db, active).vm_state == states.ACTIVE
    with db.session() as s:  # claimed once: the next pass finds nothing
        assert ci.claim_queued_deletes(s, "h1", 60.0) == []
