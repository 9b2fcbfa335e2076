"""What every server action handler shares (POST /servers/{id}/action and DELETE):
policy, the lock check, the state check, the atomic task_state change and the action
record, in Nova's order and with Nova's messages. The handlers themselves live in
`server_action_power.py`, `server_action_images.py`, `server_action_resize.py`; the
dispatcher in `server_actions.py`.

A handler is `fn(req, inst, value)` where `value` is the body's single value, already
checked against the handler's schema; it returns what a framework handler returns
(None: 202 without a body)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.compute import actions, payload
from stackbox.compute.api import lookup
from stackbox.compute.models import Instance
from stackbox.compute.rpcapi import ComputeAPI, ConductorAPI

Handler = Callable[[Req, Instance, Any], Any]
# A schema for the action's value, by microversion: [(min_version, schema), ...] newest
# last; the newest whose min_version <= the request's version applies.
Schemas = list[tuple[tuple[int, int], dict]]


@dataclass(frozen=True)
class ActionSpec:
    handler: Handler
    schemas: Schemas


def is_admin(req: Req) -> bool:
    return req.allowed("context_is_admin")


def authorize(req: Req, rule: str, inst: Instance) -> None:
    req.authorize(rule, lookup.target(inst))


def check_locked(req: Req, inst: Instance) -> None:
    """Nova's check_instance_lock: a locked instance refuses everyone but admins."""
    if inst.locked and not is_admin(req):
        raise errors.Conflict(f"Instance {inst.uuid} is locked")


def check_host(inst: Instance) -> None:
    """Nova's check_instance_host: casts to compute need a host."""
    if not inst.host:
        raise errors.Conflict(f"Instance {inst.uuid} is not ready")


def conflict(exc: actions.InstanceInvalidState) -> errors.Conflict:
    return errors.Conflict(str(exc))


def rule(action: str, inst: Instance) -> tuple[str, ...] | None:
    """The vm_states `action` may run in (`states.ALLOWED`; None: any). An action the
    table does not name runs nowhere: 409, never "allowed" by omission."""
    try:
        return actions.allowed_vm_states(action, inst.uuid)
    except actions.NoStateRule as exc:
        raise errors.Conflict(str(exc)) from None


def _check(
    action: str,
    inst: Instance,
    vm_states: Iterable[str] | None,
    task_states: Iterable[str | None] | None,
) -> None:
    try:
        actions.check_state(action, inst, vm_states, task_states)
    except actions.InstanceInvalidState as exc:
        raise conflict(exc) from None


def check_state(
    action: str, inst: Instance, task_states: Iterable[str | None] | None = (None,)
) -> None:
    """409 unless the instance's vm_state is in `action`'s rule and its task_state in
    `task_states` (None: any)."""
    _check(action, inst, rule(action, inst), task_states)


def begin(
    req: Req,
    inst: Instance,
    action: str,
    task_state: str | None,
    *,
    vm_states: Iterable[str] | None = None,
    expected: Iterable[str | None] = (None,),
    values: Mapping[str, Any] | None = None,
    record: str | None = None,
) -> str:
    """State check, then the conditional task_state update (409 when another request
    won the race), then the action record. Returns this request's id.

    `action` names the action in messages and `states.ALLOWED` (which must have it);
    `vm_states` narrows its rule for this call (a SOFT reboot); `record` (default:
    `action`) is the instance action's name."""
    allowed = rule(action, inst)
    if vm_states is not None:
        allowed = tuple(vm_states)
    expected = tuple(expected)
    _check(action, inst, allowed, expected)
    ok = actions.set_task_state(
        req.db, inst, task_state, expected, vm_states=allowed, values=values
    )
    if not ok:
        # Someone changed the row since we read it: report what it is now.
        if inst.deleted:
            raise errors.NotFound(f"Instance {inst.uuid} could not be found.")
        _check(action, inst, allowed, expected)
        raise errors.Conflict(
            f"Cannot '{action}' instance {inst.uuid} while it is in task_state {inst.task_state}"
        )
    rid = lookup.request_id()
    actions.record_action(req.db, inst, record or action, rid, req.context)
    return rid


def compute(req: Req) -> ComputeAPI:
    return ComputeAPI(req.state.bus)


def conductor(req: Req) -> ConductorAPI:
    return ConductorAPI(req.state.bus)


def send(req: Req, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any, **kw: Any) -> Any:
    """Commit the row changes, then cast (a cast must never overtake its rows)."""
    return lookup.commit_and_send(req, fn, *args, **kw)


def instance_payload(inst: Instance) -> dict[str, Any]:
    return payload.instance_payload(inst)


def cast_simple(
    req: Req, inst: Instance, rule: str, action: str, task_state: str, method: str
) -> None:
    """An action that only asks the server's host to run `method`: policy, lock, a host,
    the task state and action record, then the cast."""
    authorize(req, rule, inst)
    check_locked(req, inst)
    check_host(inst)
    rid = begin(req, inst, action, task_state)
    send(req, compute(req).simple_action, inst.host, method, instance_payload(inst), rid)


# The value of an action that takes no parameters (pause, os-stop, shelve...). Nova's
# schemas leave it unconstrained and the handlers ignore it: Tempest and gophercloud
# send {"pause": {}}, the openstack CLI {"pause": null}.
ANY_VALUE: dict = {}
NO_PARAMETERS: Schemas = [((2, 1), ANY_VALUE)]
