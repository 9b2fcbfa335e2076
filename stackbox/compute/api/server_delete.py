"""DELETE /v2.1/servers/{server_id} (204).

- compute.reclaim_instance_interval > 0: a launched server on an up host, with no task
  running, becomes SOFT_DELETED instead (its host powers it off; resources stay
  claimed; restore/forceDelete in server_action_deferred.py) and its host reclaims it
  once the interval has passed. A DELETE of a SOFT_DELETED server changes nothing then.
  Every other server is deleted at once, as below.
- Locked: 409 for everyone but admins.
- No host (never scheduled, failed before scheduling, shelved_offloaded), or a host whose
  compute service is known and down (Nova's "local delete"): the API finishes the delete
  itself: the row is soft-deleted and any allocation it holds is released, in one
  transaction. (A down host that comes back must reap guests the database no longer
  lists; a host with no service record at all is treated as up.)
- On a host: task_state deleting, then compute terminate_instance; the host reports
  `instance_destroyed` to the conductor, which soft-deletes the row.
- Already deleting (or soft-deleting): 204 again without a second cast (Nova ignores
  the repeat).
Every path records the instance action "delete"."""

from __future__ import annotations

from stackbox.api.framework import Req, Router
from stackbox.compute import actions, migrations, states
from stackbox.compute.api import lookup, server_views
from stackbox.compute.api import server_action_base as base
from stackbox.compute.models import Instance
from stackbox.db.base import utcnow
from stackbox.scheduler import claims
from stackbox.service import registry


def _release(req: Req, inst: Instance) -> None:
    """Free what the instance (and an unfinished resize of it) holds on any node."""
    claims.release(req.db, inst.uuid)
    migrations.forget(req.db, inst.uuid)


def _host_down(req: Req, host: str) -> bool:
    rec = server_views.compute_service(req, host)
    if rec is None:
        return False
    return not registry.is_up(rec, float(req.state.cfg.get("service", "service_down_time")))


def delete_server(req: Req) -> None:
    inst = lookup.get_instance(req, req.params["server_id"])
    base.authorize(req, "os_compute_api:servers:delete", inst)
    base.check_locked(req, inst)
    if inst.task_state in (states.DELETING, states.SOFT_DELETING):
        return None
    if int(req.state.cfg.get("compute", "reclaim_instance_interval")) > 0:
        if inst.vm_state == states.SOFT_DELETED:
            return None  # already waiting to be reclaimed
        if _soft_delete(req, inst):
            return None
    delete_now(req, inst)
    return None


def _soft_delete(req: Req, inst: Instance) -> bool:
    """Nova's soft_delete: a launched server on an up host, with no task running, in a
    vm_state of `states.ALLOWED["softDelete"]`, is powered off by its host and kept
    SOFT_DELETED (resources claimed) until reclaimed. False: delete it at once."""
    allowed = base.rule("softDelete", inst) or ()
    if inst.task_state is not None or inst.launched_at is None or inst.vm_state not in allowed:
        return False
    if not inst.host or _host_down(req, inst.host):
        return False
    values = {"deleted_at": utcnow(), "progress": 0}
    if not actions.set_task_state(
        req.db, inst, states.SOFT_DELETING, vm_states=allowed, values=values
    ):
        return False  # an action started meanwhile: Nova deletes at once then
    rid = lookup.request_id()
    actions.record_action(req.db, inst, "delete", rid, req.context)
    comp = base.compute(req)
    base.send(req, comp.soft_delete_instance, inst.host, base.instance_payload(inst), rid)
    return True


def delete_now(req: Req, inst: Instance) -> None:
    """Delete the instance for good: here when no host has it, else by its host."""
    rid = lookup.request_id()
    if not inst.host or _host_down(req, inst.host):
        # Nothing to tear down on a host: finish here, atomically against a racing
        # action (which would have set a task_state) or a second delete.
        if not actions.begin_delete(req.db, inst):
            return None
        actions.record_action(req.db, inst, "delete", rid, req.context)
        actions.mark_deleted(req.db, inst)
        _release(req, inst)
        return None
    # Any other task is interrupted, as in Nova; only a concurrent delete wins over us.
    if not actions.begin_delete(req.db, inst):
        return None
    actions.record_action(req.db, inst, "delete", rid, req.context)
    comp = base.compute(req)
    base.send(req, comp.terminate_instance, inst.host, base.instance_payload(inst), rid)
    return None


def register(router: Router) -> None:
    router.route("DELETE", "/v2.1/servers/{server_id}", status=204)(delete_server)
