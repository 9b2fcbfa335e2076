"""Instance actions in the database: the state checks and writes every server action
(API handlers, and later the conductor) shares.

- `check_state(action, inst, vm_states, task_states)`: Nova's `check_instance_state`,
  raising `InstanceInvalidState` with Nova's wording.
- `allowed_vm_states(action)`: the action's entry in `states.ALLOWED`; an action
  without one raises `NoStateRule` (fail closed: the API answers 409).
- `set_task_state(s, inst, task_state, ...)`: ONE conditional UPDATE
  (`... WHERE task_state IS NULL [AND vm_state IN (...)]`), so two racing requests can
  never both start an action: the loser gets False and the API answers 409.
- `record_action(s, inst, action, request_id, ctx)`: the `instance_actions` row that
  `os-instance-actions` lists (compute hosts add its events through the conductor).
- `begin_delete(s, inst)`: the same for a delete, which any task but another delete
  gives way to.
- `mark_deleted(s, inst)`: Nova's soft delete of an instance row.

No HTTP here (errors are plain exceptions the API turns into 409s) and no bus.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, or_, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from stackbox.api.context import RequestContext
from stackbox.compute import requestspec, states
from stackbox.compute.models import Instance, InstanceAction
from stackbox.compute.opmodels import ServerGroupMember
from stackbox.db.base import utcnow


class InstanceInvalidState(Exception):
    """The action is not allowed in the instance's vm_state or task_state."""

    def __init__(self, action: str, uuid: str, attr: str, state: str | None) -> None:
        self.action, self.uuid, self.attr, self.state = action, uuid, attr, state
        super().__init__(f"Cannot '{action}' instance {uuid} while it is in {attr} {state}")


def check_state(
    action: str,
    inst: Instance,
    vm_states: Iterable[str] | None = None,
    task_states: Iterable[str | None] | None = (None,),
) -> None:
    """Raise InstanceInvalidState unless vm_state is in `vm_states` and task_state in
    `task_states` (None for either: any). vm_state is checked first, as Nova does."""
    if vm_states is not None:
        allowed_vm = tuple(vm_states)
        if allowed_vm and inst.vm_state not in allowed_vm:
            raise InstanceInvalidState(action, inst.uuid, "vm_state", inst.vm_state)
    if task_states is not None and inst.task_state not in tuple(task_states):
        raise InstanceInvalidState(action, inst.uuid, "task_state", inst.task_state)


class NoStateRule(Exception):
    """`states.ALLOWED` has no entry for the action: nothing says where it may run, so
    it may run nowhere (the API answers 409)."""

    def __init__(self, action: str, uuid: str) -> None:
        self.action, self.uuid = action, uuid
        super().__init__(
            f"Cannot '{action}' instance {uuid}: no rule says in which states it may run"
        )


def allowed_vm_states(action: str, uuid: str = "") -> tuple[str, ...] | None:
    """`states.ALLOWED[action]`, None when the action runs in any vm_state
    (`states.ANY_STATE`). Fails closed: an action without an entry raises NoStateRule."""
    allowed = states.ALLOWED.get(action)
    if allowed is None:
        raise NoStateRule(action, uuid)
    return allowed or None


def _task_clause(expected: Iterable[str | None]) -> Any:
    exp = list(expected)
    clauses = []
    if None in exp:
        clauses.append(Instance.task_state.is_(None))
    named = [e for e in exp if e is not None]
    if named:
        clauses.append(Instance.task_state.in_(named))
    return or_(*clauses)


def set_task_state(
    s: Session,
    inst: Instance,
    task_state: str | None,
    expected: Iterable[str | None] | None = (None,),
    *,
    vm_states: Iterable[str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> bool:
    """Set task_state (and `values`) only if the row still has a task_state in
    `expected` (None: any) and a vm_state in `vm_states` (when given) and is not deleted.

    One UPDATE: on PostgreSQL the second of two racing transactions waits on the row
    lock and re-checks the WHERE clause; on SQLite the write lock serialises them. Either
    way exactly one wins. Returns whether this one did; `inst` is refreshed either way,
    so a loser can report the state it found."""
    cond = [Instance.id == inst.id, Instance.deleted.is_(False)]
    if expected is not None:
        cond.append(_task_clause(expected))
    if vm_states is not None:
        cond.append(Instance.vm_state.in_(tuple(vm_states)))
    vals: dict[str, Any] = {"task_state": task_state, "updated_at": utcnow()}
    vals.update(values or {})
    stmt = update(Instance).where(*cond).values(**vals)
    result: CursorResult = s.execute(  # type: ignore[assignment]
        stmt.execution_options(synchronize_session=False)
    )
    s.refresh(inst)
    return result.rowcount == 1


def begin_delete(s: Session, inst: Instance) -> bool:
    """task_state -> deleting from any task but deleting itself (a delete interrupts
    whatever runs, as in Nova); False when another delete got there first."""
    stmt = (
        update(Instance)
        .where(
            Instance.id == inst.id,
            Instance.deleted.is_(False),
            or_(Instance.task_state.is_(None), Instance.task_state != states.DELETING),
        )
        .values(task_state=states.DELETING, updated_at=utcnow())
    )
    result: CursorResult = s.execute(  # type: ignore[assignment]
        stmt.execution_options(synchronize_session=False)
    )
    s.refresh(inst)
    return result.rowcount == 1


def record_action(
    s: Session, inst: Instance, action: str, request_id: str, ctx: RequestContext
) -> InstanceAction:
    """Add the instance action `action` of this request (Nova's action_start)."""
    now = utcnow()
    row = InstanceAction(
        action=action,
        instance_uuid=inst.uuid,
        request_id=request_id,
        user_id=ctx.user_id,
        project_id=ctx.project_id,
        start_time=now,
        updated_at=now,
    )
    s.add(row)
    s.flush()
    return row


def mark_deleted(s: Session, inst: Instance) -> None:
    """Soft-delete the row as Nova does: it stays readable (deleted servers, actions
    of deleted servers at 2.21+) but leaves every listing and lookup."""
    now = utcnow()
    inst.deleted = True
    inst.vm_state = states.DELETED
    inst.task_state = None
    inst.power_state = states.NOSTATE
    inst.deleted_at = now
    inst.terminated_at = inst.terminated_at or now
    inst.updated_at = now
    s.flush()
    _leave_server_group(s, inst.uuid)
    requestspec.destroy(s, inst.uuid)


def _leave_server_group(s: Session, instance_uuid: str) -> None:
    """A deleted server is no longer a member of its server group."""

    s.execute(delete(ServerGroupMember).where(ServerGroupMember.instance_uuid == instance_uuid))
