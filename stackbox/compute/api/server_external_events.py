"""POST /v2.1/os-server-external-events: other services (Neutron, Cinder, Ironic,
Cyborg) tell Nova about its instances. Service or admin only. The body lists events
({"name", "server_uuid", "status"?, "tag"?}); which names are accepted grows with the
microversion (2.51 volume-extended, 2.76 power-update, 2.82 accelerator-request-bound,
2.93 volume-reimaged). Each event comes back with its `code` and `status`: 200
"completed" when the instance is on a host (the event is cast there), 404 for an
unknown instance, 422 for one on no host, 400 for a tagless event that needs a tag.
The response is 200 when all succeeded, else 207 (Nova's, since its bug 1855752: never
404, even when every instance is unknown).

As Nova, only two kinds leave an instance action: volume-extended (`extend_volume`)
and power-update (`start` or `stop`, by its tag). The compute host only logs the
events it has no handler for, which for now is all of them (`external_events.py`):
networking and volumes come later.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any

from sqlalchemy import select

from stackbox.api.framework import Req, Router, validate
from stackbox.compute import actions
from stackbox.compute.api import lookup
from stackbox.compute.api.microversion import pick, version
from stackbox.compute.models import Instance
from stackbox.compute.rpcapi import ComputeAPI

TAG_REQUIRED = frozenset({"volume-extended", "power-update", "accelerator-request-bound"})
STATUSES = ("failed", "completed", "in-progress")
# power-update's tags, and the instance action each one records.
POWER_ACTIONS = {"POWER_ON": "start", "POWER_OFF": "stop"}

_NAMES_BY_VERSION: list[tuple[tuple[int, int], tuple[str, ...]]] = [
    ((2, 1), ("network-changed", "network-vif-plugged", "network-vif-unplugged",
              "network-vif-deleted")),
    ((2, 51), ("volume-extended",)),
    ((2, 76), ("power-update",)),
    ((2, 82), ("accelerator-request-bound",)),
    ((2, 93), ("volume-reimaged",)),
]  # fmt: skip


def _schema(names: list[str]) -> dict[str, Any]:
    """The request schema accepting event `names` (at import only)."""
    event = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "enum": names},
            "server_uuid": {"type": "string", "format": "uuid"},
            "status": {"type": "string", "enum": list(STATUSES)},
            "tag": {"type": "string", "maxLength": 255},
        },
        "required": ["name", "server_uuid"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"events": {"type": "array", "minItems": 1, "items": event}},
        "required": ["events"],
        "additionalProperties": False,
    }


def _schemas() -> list[tuple[tuple[int, int], dict[str, Any]]]:
    out: list[tuple[tuple[int, int], dict[str, Any]]] = []
    names: list[str] = []
    for since, added in _NAMES_BY_VERSION:
        names.extend(added)
        out.append((since, _schema(list(names))))
    return out


SCHEMAS = _schemas()


def _instances(req: Req, uuids: set[str]) -> dict[str, Instance]:
    q = select(Instance).where(Instance.uuid.in_(uuids), Instance.deleted.is_(False))
    return {inst.uuid: inst for inst in req.db.scalars(q)}


def _judge(event: dict[str, Any], inst: Instance | None) -> int:
    """The event's code: 200 accepted, else why not (Nova's order)."""
    if inst is None:
        return 404
    if event["name"] in TAG_REQUIRED and "tag" not in event:
        return 400
    return 200 if inst.host else 422


def _record(req: Req, inst: Instance, event: dict[str, Any], rid: str) -> None:
    """The instance action Nova starts for this event, if any."""
    if event["name"] == "volume-extended":
        action: str | None = "extend_volume"
    elif event["name"] == "power-update":
        action = POWER_ACTIONS.get(event["tag"])
    else:
        action = None
    if action is not None:
        actions.record_action(req.db, inst, action, rid, req.context)


def create(req: Req) -> tuple[dict, int]:
    req.authorize("os_compute_api:os-server-external-events:create")
    from_client = req.body["events"]
    found = _instances(req, {e["server_uuid"] for e in from_client})
    rid = lookup.request_id()
    by_host: dict[str, list[dict[str, Any]]] = defaultdict(list)
    answered = []
    for sent in from_client:
        event = copy.deepcopy(sent)
        inst = found.get(event["server_uuid"])
        code = _judge(event, inst)
        event["code"] = code
        if code == 200 and inst is not None:
            event["status"] = "completed"
            _record(req, inst, event, rid)
            assert inst.host is not None  # _judge answers 422 for an instance on no host
            by_host[inst.host].append({k: v for k, v in event.items() if k != "code"})
        else:
            event["status"] = "failed"
        answered.append(event)
    req.db.commit()  # the actions are written before any host hears of them
    compute = ComputeAPI(req.state.bus)
    for host, events in by_host.items():
        lookup.send(compute.external_instance_event, host, events)
    status = 200 if all(e["code"] == 200 for e in answered) else 207
    return {"events": answered}, status


def register(router: Router) -> None:
    @router.route("POST", "/v2.1/os-server-external-events")
    def post(req: Req) -> tuple[dict, int]:
        # The body first, as Nova's schema decorator runs before its policy check.
        validate(pick(SCHEMAS, version(req)), req.body)
        return create(req)
