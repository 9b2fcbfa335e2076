"""The database writes the conductor does for compute hosts, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from stackbox.compute import states
from stackbox.compute.models import Instance, InstanceAction, InstanceFault
from stackbox.conductor import instances as ci
from stackbox.db import Database

FLAVOR = {
    "flavorid": "1",
    "name": "m1.tiny",
    "memory_mb": 512,
    "vcpus": 1,
    "root_gb": 1,
    "ephemeral_gb": 0,
    "swap": 0,
    "extra_specs": {},
}


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    d = Database(database_url)
    yield d
    d.dispose()


def make_instance(db: Database, **kw: object) -> str:
    u = str(uuid.uuid4())
    values: dict = {
        "uuid": u,
        "display_name": "s1",
        "hostname": "s1",
        "project_id": "p1",
        "user_id": "u1",
        "flavor": FLAVOR,
        "vm_state": states.BUILDING,
        "task_state": states.SPAWNING,
        "reservation_id": "r-abcdefgh",
        "host": "h1",
    }
    values.update(kw)
    with db.session() as s:
        s.add(Instance(**values))
        s.add(InstanceAction(action="create", instance_uuid=u, request_id="req-1"))
    return u


def test_update_applies_only_in_the_expected_task_state(db: Database) -> None:
    u = make_instance(db)
    with db.session() as s:
        out = ci.instance_update(
            s,
            u,
            {
                "vm_state": "active",
                "task_state": None,
                "power_state": 1,
                "launched_at": "2026-11-23T10:00:00",
            },
            [states.SPAWNING],
        )
    assert out["vm_state"] == "active" and out["task_state"] is None
    assert out["launched_at"].startswith("2026-11-23T10:00:00")
    with db.session() as s, pytest.raises(ci.UnexpectedTaskState) as info:
        ci.instance_update(s, u, {"vm_state": "error"}, [states.SPAWNING])
    assert info.value.actual is None
    with db.session() as s:
        assert s.scalar(select(Instance.vm_state).where(Instance.uuid == u)) == "active"


def test_update_refuses_unknown_columns_and_deleted_rows(db: Database) -> None:
    u = make_instance(db, deleted=True)
    with db.session() as s, pytest.raises(ValueError, match="display_name"):
        ci.instance_update(s, u, {"display_name": "x"})
    with db.session() as s, pytest.raises(ci.InstanceNotFound):
        ci.instance_update(s, u, {"vm_state": "active"})


def test_events_attach_to_the_request_action_and_errors_mark_it(db: Database) -> None:
    u = make_instance(db)
    with db.session() as s:
        ci.action_event_start(s, u, "req-1", "compute_build_and_run_instance", "h1")
    with db.session() as s:
        ci.action_event_finish(s, u, "req-1", "compute_build_and_run_instance", "Error", "tb")
    with db.session() as s:
        action = s.scalar(select(InstanceAction).where(InstanceAction.instance_uuid == u))
        assert action is not None and action.message == "Error"
        [ev] = action.events
        assert (ev.event, ev.result, ev.traceback, ev.host) == (
            "compute_build_and_run_instance",
            "Error",
            "tb",
            "h1",
        )
        assert ev.finish_time is not None and ev.finish_time >= ev.start_time


def test_set_error_records_a_fault(db: Database) -> None:
    u = make_instance(db)
    with db.session() as s:
        ci.set_error(s, u, "No valid host was found. ", "", None)
    with db.session() as s:
        inst = s.scalar(select(Instance).where(Instance.uuid == u))
        assert inst is not None and (inst.vm_state, inst.task_state) == ("error", None)
        fault = s.scalar(select(InstanceFault).where(InstanceFault.instance_uuid == u))
        assert fault is not None and fault.message.startswith("No valid host")


def test_instances_for_host_lists_live_instances_of_that_host(db: Database) -> None:
    host = f"h-{uuid.uuid4().hex[:6]}"
    a = make_instance(db, host=host)
    make_instance(db, host=host, deleted=True)
    make_instance(db, host="elsewhere")
    with db.session() as s:
        assert [p["uuid"] for p in ci.instances_for_host(s, host)] == [a]
