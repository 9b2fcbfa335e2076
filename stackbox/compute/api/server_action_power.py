"""Server actions that change how a server runs, or only its row: reboot, os-stop,
os-start, pause/unpause, suspend/resume (each a cast to the instance's compute host),
lock/unlock and os-resetState (columns only, no cast), os-getConsoleOutput (a call).

Images, shelving, rebuild and resize are in their own modules."""

from __future__ import annotations

import re
from typing import Any

from stackbox import bus as sbbus
from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.compute import actions, states
from stackbox.compute.api import lookup
from stackbox.compute.api import server_action_base as base
from stackbox.compute.api.microversion import version
from stackbox.compute.models import Instance
from stackbox.db.base import utcnow

# Task states a HARD reboot may interrupt (a stuck soft reboot or power change).
HARD_REBOOT_FROM: tuple[str | None, ...] = (
    None,
    states.REBOOTING,
    states.REBOOT_PENDING,
    states.REBOOT_STARTED,
    states.REBOOTING_HARD,
    states.PAUSING,
    states.UNPAUSING,
    states.SUSPENDING,
    states.RESUMING,
)

# body key -> (action name, policy rule, task_state, compute method)
SIMPLE: dict[str, tuple[str, str, str, str]] = {
    "os-stop": ("stop", "os_compute_api:servers:stop", states.POWERING_OFF, "stop_instance"),
    "os-start": ("start", "os_compute_api:servers:start", states.POWERING_ON, "start_instance"),
    "pause": ("pause", "os_compute_api:os-pause-server:pause", states.PAUSING, "pause_instance"),
    "unpause": (
        "unpause",
        "os_compute_api:os-pause-server:unpause",
        states.UNPAUSING,
        "unpause_instance",
    ),
    "suspend": (
        "suspend",
        "os_compute_api:os-suspend-server:suspend",
        states.SUSPENDING,
        "suspend_instance",
    ),
    "resume": (
        "resume",
        "os_compute_api:os-suspend-server:resume",
        states.RESUMING,
        "resume_instance",
    ),
}


def _simple(key: str) -> base.Handler:
    action, rule, task, method = SIMPLE[key]

    def handler(req: Req, inst: Instance, _value: Any) -> None:
        base.cast_simple(req, inst, rule, action, task, method)

    handler.__name__ = f"action_{action}"
    return handler


def reboot(req: Req, inst: Instance, value: dict) -> None:
    base.authorize(req, "os_compute_api:servers:reboot", inst)
    base.check_locked(req, inst)
    base.check_host(inst)
    kind = value["type"].upper()
    if kind == "SOFT":
        rid = base.begin(req, inst, "reboot", states.REBOOTING, vm_states=(states.ACTIVE,))
    else:
        rid = base.begin(req, inst, "reboot", states.REBOOTING_HARD, expected=HARD_REBOOT_FROM)
    comp = base.compute(req)
    base.send(req, comp.reboot_instance, inst.host, base.instance_payload(inst), rid, kind)


def lock(req: Req, inst: Instance, value: Any) -> None:
    base.authorize(req, "os_compute_api:os-lock-server:lock", inst)
    reason = None
    if version(req) >= (2, 73) and isinstance(value, dict):
        reason = value.get("locked_reason")
    owner = inst.project_id == req.context.project_id
    inst.locked = True
    inst.locked_by = "owner" if owner else "admin"
    inst.locked_reason = reason
    inst.updated_at = utcnow()
    actions.record_action(req.db, inst, "lock", lookup.request_id(), req.context)


def unlock(req: Req, inst: Instance, _value: Any) -> None:
    base.authorize(req, "os_compute_api:os-lock-server:unlock", inst)
    # Who locked it must match who unlocks it, unless policy lets the caller override
    # (an owner cannot lift an admin's lock).
    expected_by = "owner" if inst.project_id == req.context.project_id else "admin"
    if inst.locked_by and inst.locked_by != expected_by:
        base.authorize(req, "os_compute_api:os-lock-server:unlock:unlock_override", inst)
    inst.locked = False
    inst.locked_by = None
    inst.locked_reason = None
    inst.updated_at = utcnow()
    actions.record_action(req.db, inst, "unlock", lookup.request_id(), req.context)


def reset_state(req: Req, inst: Instance, value: dict) -> None:
    base.authorize(req, "os_compute_api:os-admin-actions:reset_state", inst)
    vm_state = states.ACTIVE if value["state"] == "active" else states.ERROR
    # Unconditional on purpose: resetState exists to get instances out of stuck tasks.
    actions.set_task_state(req.db, inst, None, None, values={"vm_state": vm_state})
    actions.record_action(req.db, inst, "resetState", lookup.request_id(), req.context)


# Control characters a console may print that JSON clients choke on (keep \t and \n).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")


def console_output(req: Req, inst: Instance, value: dict | None) -> tuple[dict, int]:
    base.authorize(req, "os_compute_api:os-console-output", inst)
    base.check_host(inst)
    if inst.task_state == states.DELETING:
        raise errors.Conflict(
            f"Cannot 'get_console_output' instance {inst.uuid} while it is in "
            f"task_state {inst.task_state}"
        )
    raw = (value or {}).get("length")
    length = None if raw is None else int(raw)
    if length is not None and length < -1:
        raise errors.BadRequest("Invalid input for field 'length': it must be >= -1.")
    if length == -1:
        length = None
    comp = base.compute(req)
    try:
        text = base.send(
            req, comp.get_console_output, inst.host, base.instance_payload(inst), length
        )
    except sbbus.RemoteError as exc:
        if exc.exc_type == "NotImplementedError":
            raise errors.NotImplementedYet("Unable to get console output.") from None
        raise errors.NotFound("Guest does not have a console available.") from None
    except sbbus.RPCTimeout:
        raise errors.Conflict(f"Instance {inst.uuid} is not ready") from None
    return {"output": _CONTROL.sub("", text)}, 200


_REBOOT = {
    "type": "object",
    "properties": {"type": {"enum": ["HARD", "Hard", "SOFT", "Soft"]}},
    "required": ["type"],
    "additionalProperties": False,
}
_LOCK_273 = {
    "oneOf": [
        {"type": "null"},
        {
            "type": "object",
            "properties": {"locked_reason": {"type": "string", "minLength": 1, "maxLength": 255}},
            "additionalProperties": False,
        },
    ]
}
_RESET = {
    "type": "object",
    "properties": {"state": {"enum": ["active", "error"]}},
    "required": ["state"],
    "additionalProperties": False,
}
_CONSOLE = {
    "oneOf": [
        {"type": "null"},
        {
            "type": "object",
            "properties": {
                "length": {
                    "oneOf": [
                        {"type": "null"},
                        {"type": "integer", "minimum": -1},
                        {"type": "string", "pattern": "^-?[0-9]+$"},
                    ]
                }
            },
            "additionalProperties": False,
        },
    ]
}

ACTIONS: dict[str, base.ActionSpec] = {
    **{key: base.ActionSpec(_simple(key), base.NO_PARAMETERS) for key in SIMPLE},
    "reboot": base.ActionSpec(reboot, [((2, 1), _REBOOT)]),
    "lock": base.ActionSpec(lock, [((2, 1), base.ANY_VALUE), ((2, 73), _LOCK_273)]),
    "unlock": base.ActionSpec(unlock, base.NO_PARAMETERS),
    "os-resetState": base.ActionSpec(reset_state, [((2, 1), _RESET)]),
    "os-getConsoleOutput": base.ActionSpec(console_output, [((2, 1), _CONSOLE)]),
}
