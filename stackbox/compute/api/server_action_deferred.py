"""Deferred delete (Nova's os-deferred-delete): with compute.reclaim_instance_interval
> 0 a DELETE leaves the server SOFT_DELETED, guest powered off and its resources still
claimed (server_delete.py), until its host reclaims it. These actions act on it:

- `restore`: SOFT_DELETED only (409 otherwise); the instance quota is checked again
  (a soft-deleted server does not count, as in Nova: 403 when it no longer fits); the
  host powers the guest on and the server is ACTIVE again.
- `forceDelete`: delete now, in any vm_state but with no task running (409), as Nova's
  force_delete; the delete itself is server_delete.py's."""

from __future__ import annotations

from typing import Any

from stackbox.api.framework import Req
from stackbox.compute import quotas, states
from stackbox.compute.api import server_action_base as base
from stackbox.compute.api import server_delete
from stackbox.compute.models import Instance


def _quota(req: Req, inst: Instance) -> None:
    flavor = inst.flavor or {}
    deltas = {
        "instances": 1,
        "cores": int(flavor.get("vcpus") or 0),
        "ram": int(flavor.get("memory_mb") or 0),
    }
    quotas.check(req.db, inst.project_id, inst.user_id, deltas, cfg=req.state.cfg)


def restore(req: Req, inst: Instance, _value: Any) -> None:
    base.authorize(req, "os_compute_api:os-deferred-delete:restore", inst)
    base.check_locked(req, inst)
    base.check_state("restore", inst)
    _quota(req, inst)
    if not inst.host:  # nothing to power on anywhere
        values = {"vm_state": states.ACTIVE, "deleted_at": None}
        base.begin(req, inst, "restore", None, values=values)
        return None
    rid = base.begin(req, inst, "restore", states.RESTORING, values={"deleted_at": None})
    comp = base.compute(req)
    base.send(req, comp.restore_instance, inst.host, base.instance_payload(inst), rid)
    return None


def force_delete(req: Req, inst: Instance, _value: Any) -> None:
    base.authorize(req, "os_compute_api:os-deferred-delete:force", inst)
    base.check_locked(req, inst)
    base.check_state("forceDelete", inst)
    server_delete.delete_now(req, inst)
    return None


ACTIONS: dict[str, base.ActionSpec] = {
    "restore": base.ActionSpec(restore, base.NO_PARAMETERS),
    "forceDelete": base.ActionSpec(force_delete, base.NO_PARAMETERS),
}
