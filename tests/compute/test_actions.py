"""stackbox.compute.actions on SQLite and PostgreSQL: state checks with Nova's wording,
the conditional task_state update (exactly one of many racing sessions wins), action
records and the soft delete."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from stackbox.api.context import RequestContext
from stackbox.compute import actions, states
from stackbox.compute.models import Instance, InstanceAction
from stackbox.db import Database

CTX = RequestContext(
    user_id="u1",
    user_name="u",
    user_domain_id="default",
    user_domain_name="Default",
    project_id="p1",
)


@pytest.fixture(scope="module")
def db(database_url: str) -> Iterator[Database]:
    d = Database(database_url)
    yield d
    d.dispose()


def new_instance(db: Database, vm: str = states.ACTIVE, task: str | None = None) -> Instance:
    uid = str(uuid.uuid4())
    with db.session() as s:
        inst = Instance(
            uuid=uid,
            display_name="vm",
            hostname="vm",
            project_id="p1",
            user_id="u1",
            flavor={},
            vm_state=vm,
            task_state=task,
            host="h1",
            reservation_id="r-1",
        )
        s.add(inst)
    return inst


def test_check_state_messages() -> None:
    inst = Instance(uuid="abc", vm_state=states.STOPPED, task_state=None)
    with pytest.raises(actions.InstanceInvalidState) as exc:
        actions.check_state("stop", inst, states.ALLOWED["stop"])
    assert str(exc.value) == "Cannot 'stop' instance abc while it is in vm_state stopped"
    inst.vm_state, inst.task_state = states.ACTIVE, states.POWERING_OFF
    with pytest.raises(actions.InstanceInvalidState) as exc:
        actions.check_state("stop", inst, states.ALLOWED["stop"])
    assert str(exc.value) == "Cannot 'stop' instance abc while it is in task_state powering-off"
    actions.check_state("lock", inst, None, None)  # any state
    assert actions.allowed_vm_states("lock") is None
    assert actions.allowed_vm_states("start") == (states.STOPPED,)


def test_an_action_missing_from_the_table_is_allowed_nowhere() -> None:
    assert "teleport" not in states.ALLOWED
    with pytest.raises(actions.NoStateRule) as exc:
        actions.allowed_vm_states("teleport", "abc")
    assert (
        str(exc.value) == "Cannot 'teleport' instance abc: no rule says in which states it may run"
    )


def test_set_task_state_respects_expected_and_vm_states(db: Database) -> None:
    inst = new_instance(db)
    with db.session() as s:
        row = s.get(Instance, inst.id)
        assert row is not None
        assert not actions.set_task_state(s, row, states.PAUSING, vm_states=(states.STOPPED,))
        assert row.task_state is None
        assert actions.set_task_state(
            s, row, states.POWERING_OFF, vm_states=(states.ACTIVE,), values={"progress": 5}
        )
        assert (row.task_state, row.progress) == (states.POWERING_OFF, 5)
        assert not actions.set_task_state(s, row, states.PAUSING)
        assert row.task_state == states.POWERING_OFF  # refreshed: the loser sees the winner
        assert actions.set_task_state(s, row, None, (states.POWERING_OFF,))
        assert actions.set_task_state(s, row, states.REBOOTING, None)  # None: any task


def _race(db: Database, inst_id: int, tasks: list[str]) -> list[bool]:
    """One session per task, all released at once, each trying to set its task."""
    barrier = threading.Barrier(len(tasks))
    wins: list[bool] = []

    def run(task: str) -> None:
        barrier.wait()
        with db.session() as s:
            row = s.get(Instance, inst_id)
            assert row is not None
            wins.append(actions.set_task_state(s, row, task))

    threads = [threading.Thread(target=run, args=(t,)) for t in tasks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return wins


def test_racing_sessions_exactly_one_wins(db: Database) -> None:
    tasks = [states.POWERING_OFF, states.PAUSING, states.SUSPENDING, states.REBOOTING]
    for _ in range(3):
        inst = new_instance(db)
        assert sorted(_race(db, inst.id, tasks)) == [False, False, False, True]


def test_begin_delete_once(db: Database) -> None:
    inst = new_instance(db, task=states.POWERING_OFF)
    with db.session() as s:
        row = s.get(Instance, inst.id)
        assert row is not None
        assert actions.begin_delete(s, row)
        assert row.task_state == states.DELETING
        assert not actions.begin_delete(s, row)


def test_record_action_and_mark_deleted(db: Database) -> None:
    inst = new_instance(db)
    with db.session() as s:
        row = s.get(Instance, inst.id)
        assert row is not None
        act = actions.record_action(s, row, "stop", "req-1", CTX)
        assert (act.action, act.request_id, act.user_id, act.project_id) == (
            "stop",
            "req-1",
            "u1",
            "p1",
        )
        actions.mark_deleted(s, row)
    with db.session() as s:
        row = s.get(Instance, inst.id)
        assert row is not None
        assert (row.deleted, row.vm_state, row.task_state) == (True, states.DELETED, None)
        assert row.deleted_at is not None
        assert s.query(InstanceAction).filter_by(instance_uuid=inst.uuid).count() == 1
        # A deleted row takes no task any more.
        assert not actions.set_task_state(s, row, states.POWERING_OFF)
