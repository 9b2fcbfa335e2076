"""Conductor workflows that need the scheduler: build (boot), resize, unshelve.

    build_instances:  rows in `scheduling` → scheduler picks and claims a host for
                      each → row gets host/node, task `spawning` → cast to the host.
    resize_instance:  the current claim moves to `migration:<uuid>` (the uuid of the
                      resize's migration record, compute/migrations.py), the scheduler
                      claims the new flavor on the same host → cast to the host.
    unshelve_instance: like a build, from the shelved image.

Every scheduling after the build starts from the request stored at create
(compute/requestspec.py: `for_move`), so the zone, hints and server group of the
create still hold; a confirmed resize stores its new flavor there.

No host → the instance goes ERROR (build) or back to its state (resize) with Nova's
fault "No valid host was found…". A server deleted while it was being scheduled gets
its fresh claim released instead of a guest."""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import Any

from sqlalchemy import select, update

from stackbox import bus as sbbus
from stackbox.compute import migrations, payload, requestspec, states
from stackbox.compute.models import Allocation, Instance
from stackbox.compute.rpcapi import ComputeAPI, SchedulerAPI
from stackbox.conductor import instances as db_instances
from stackbox.db import Database
from stackbox.db.base import utcnow
from stackbox.scheduler import claims

LOG = logging.getLogger("stackbox.conductor")

NO_VALID_HOST = "No valid host was found. "


class Workflows:
    def __init__(self, db: Database, bus: sbbus.Bus, host: str) -> None:
        self.db, self.bus, self.host = db, bus, host
        self.scheduler = SchedulerAPI(bus)
        self.compute = ComputeAPI(bus)

    def _run(self, fn: Any, *args: Any) -> Any:
        with self.db.session() as s:
            return fn(s, *args)

    async def _event(
        self,
        uuids: list[str],
        request_id: str,
        event: str,
        result: str | None,
        tb: str | None = None,
    ) -> None:
        def write(s: Any) -> None:
            for u in uuids:
                if result is None:
                    db_instances.action_event_start(s, u, request_id, event, self.host)
                else:
                    db_instances.action_event_finish(s, u, request_id, event, result, tb)

        await asyncio.to_thread(self._run, write)

    async def _select(self, spec: dict, uuids: list[str]) -> tuple[list[dict] | None, str]:
        """Destinations, or None and the reason."""
        try:
            return await self.scheduler.select_destinations(spec, uuids), ""
        except sbbus.RemoteError as exc:
            if exc.exc_type == "NoValidHost":
                return None, exc.message
            LOG.error("scheduling %s failed: %s", uuids, exc)
            return None, f"{NO_VALID_HOST}The scheduler failed: {exc.message}"
        except sbbus.BusError as exc:
            LOG.error("scheduling %s failed: %s", uuids, exc)
            return None, f"{NO_VALID_HOST}The scheduler is not reachable: {exc}"

    # --- build -----------------------------------------------------------------------
    async def build_instances(
        self,
        instance_uuids: list[str],
        request_spec: dict,
        request_id: str,
        admin_password: str | None,
        injected_files: list[dict] | None = None,
    ) -> None:
        event = "conductor_schedule_and_build_instances"
        await self._event(instance_uuids, request_id, event, None)
        dests, why = await self._select(request_spec, instance_uuids)
        if dests is None:
            message = why if why.startswith(NO_VALID_HOST) else NO_VALID_HOST + why
            await asyncio.to_thread(self._run, _fail_builds, instance_uuids, message)
            await self._event(instance_uuids, request_id, event, "Error", message)
            return
        for instance_uuid, dest in zip(instance_uuids, dests, strict=True):
            inst = await asyncio.to_thread(self._run, _assign_host, instance_uuid, dest)
            if inst is None:
                LOG.info("instance %s was deleted while scheduled; claim released", instance_uuid)
                continue
            await self._event([instance_uuid], request_id, event, "Success")
            await self.compute.build_and_run_instance(
                dest["host"], inst, request_id, admin_password, injected_files
            )

    # --- resize ----------------------------------------------------------------------
    async def resize_instance(self, instance_uuid: str, new_flavor: dict, request_id: str) -> None:
        event = "conductor_migrate_server"
        await self._event([instance_uuid], request_id, event, None)
        try:
            spec, mig = await asyncio.to_thread(
                self._run, _prepare_resize, instance_uuid, new_flavor
            )
        except db_instances.InstanceNotFound:
            return
        dests, why = await self._select(spec, [instance_uuid])
        if dests is None:
            await asyncio.to_thread(self._run, _undo_resize, instance_uuid, mig, why)
            await self._event([instance_uuid], request_id, event, "Error", why)
            return
        await asyncio.to_thread(self._run, _resize_placed, instance_uuid, mig, dests[0])
        inst = await asyncio.to_thread(
            self._run,
            lambda s: db_instances.instance_update(
                s, instance_uuid, {"task_state": states.RESIZE_MIGRATING}, [states.RESIZE_PREP]
            ),
        )
        await self._event([instance_uuid], request_id, event, "Success")
        await self.compute.resize_instance(dests[0]["host"], inst, request_id, new_flavor)

    # --- unshelve --------------------------------------------------------------------
    async def unshelve_instance(self, instance_uuid: str, request_id: str) -> None:
        event = "conductor_unshelve_instance"
        await self._event([instance_uuid], request_id, event, None)
        try:
            inst, spec = await asyncio.to_thread(self._run, _unshelve_state, instance_uuid)
        except db_instances.InstanceNotFound:
            return
        if inst is not None:  # shelved, not offloaded: it still has its host and claims
            await self._event([instance_uuid], request_id, event, "Success")
            await self.compute.unshelve_instance(inst["host"], inst, request_id)
            return
        dests, why = await self._select(spec, [instance_uuid])
        if dests is None:

            def back(s: Any) -> None:
                db_instances.instance_update(
                    s, instance_uuid, {"task_state": None}, [states.UNSHELVING]
                )
                db_instances.fault_create(s, instance_uuid, 500, why, "", None)

            await asyncio.to_thread(self._run, back)
            await self._event([instance_uuid], request_id, event, "Error", why)
            return
        inst = await asyncio.to_thread(
            self._run, _assign_host, instance_uuid, dests[0], states.UNSHELVING
        )
        if inst is None:
            return
        await self._event([instance_uuid], request_id, event, "Success")
        await self.compute.unshelve_instance(dests[0]["host"], inst, request_id)


def _unshelve_state(s: Any, instance_uuid: str) -> tuple[dict | None, dict[str, Any]]:
    """(payload, spec): the payload only when the instance still has a host."""
    inst = db_instances.load(s, instance_uuid)
    if inst.host is not None and inst.vm_state == states.SHELVED:
        return payload.instance_payload(inst), {}
    return None, requestspec.for_move(s, inst)


def _fail_builds(s: Any, uuids: list[str], message: str) -> None:
    for u in uuids:
        try:
            db_instances.set_error(s, u, message, "", None)
        except Exception:  # a deleted row has nothing left to fail
            LOG.debug("cannot mark %s failed: %s", u, traceback.format_exc())


def _assign_host(
    s: Any, instance_uuid: str, dest: dict, from_task: str = states.SCHEDULING
) -> dict | None:
    """Give the instance its host (only if it is still waiting for one); else free the
    claim just made for it and return None."""
    node_az = dest.get("availability_zone")
    values: dict[str, Any] = {
        "host": dest["host"],
        "node": dest.get("node") or dest["host"],
        "task_state": states.SPAWNING,
        "updated_at": utcnow(),
    }
    stmt = update(Instance).where(
        Instance.uuid == instance_uuid,
        Instance.deleted.is_(False),
        Instance.task_state == from_task,
    )
    if s.execute(stmt.values(**values)).rowcount == 0:
        claims.release(s, instance_uuid)
        return None
    inst = db_instances.load(s, instance_uuid)
    _store_placement(s, inst, dest)
    if inst.availability_zone is None and node_az:
        inst.availability_zone = node_az
    s.flush()
    return payload.instance_payload(inst)


def _store_placement(s: Any, inst: Instance, dest: dict) -> None:
    """The claim's NUMA cells / pinned CPUs / PCI devices (allocations.details) become
    the instance's numa_topology, which the domain XML is built from."""
    query = select(Allocation.details).where(Allocation.consumer_id == inst.uuid)
    if dest.get("compute_node_id") is not None:
        query = query.where(Allocation.compute_node_id == dest["compute_node_id"])
    details = s.execute(query).scalars().first()
    inst.numa_topology = dict(details or {})


def _store_placement_of(s: Any, instance_uuid: str, dest: dict) -> None:
    try:
        inst = db_instances.load(s, instance_uuid)
    except db_instances.InstanceNotFound:  # deleted meanwhile: nothing to record
        return
    _store_placement(s, inst, dest)


def _prepare_resize(s: Any, instance_uuid: str, new_flavor: dict) -> tuple[dict[str, Any], str]:
    """Keep the current claim as the migration's (the API made the record; a resize
    asked for without one gets it here); the new flavor is claimed on the same host
    (resize to another host needs disk migration, which is not built). Returns the
    request spec and the migration's uuid."""
    inst = db_instances.load(s, instance_uuid)
    mig = migrations.current(s, instance_uuid)
    if mig is None or mig.status != "pre-migrating":
        mig = migrations.create_resize(s, inst, inst.flavor or {}, new_flavor)
    claims.move(s, instance_uuid, migrations.consumer(mig.uuid))
    spec = requestspec.for_move(s, inst, flavor=new_flavor)
    spec["force_host"] = inst.host
    return spec, mig.uuid


def _resize_placed(s: Any, instance_uuid: str, mig: str, dest: dict) -> None:
    migrations.set_destination(s, mig, dest["host"], dest.get("node"))
    _store_placement_of(s, instance_uuid, dest)


def _undo_resize(s: Any, instance_uuid: str, mig: str, why: str) -> None:
    claims.move(s, migrations.consumer(mig), instance_uuid)
    migrations.advance(s, instance_uuid, "error")
    db_instances.instance_update(
        s, instance_uuid, {"task_state": None, "new_flavor": None}, [states.RESIZE_PREP]
    )
    db_instances.fault_create(s, instance_uuid, 500, why, "", None)


def resize_claims_done(s: Any, instance_uuid: str, confirmed: bool) -> None:
    """Confirm: free the source side and the migration is `confirmed`. Revert: free
    the new flavor's claim and give the source side back to the instance (only when
    a migration still holds it)."""
    held = migrations.held_consumer(s, instance_uuid)
    if confirmed:
        if held is not None:
            claims.release(s, held, owner=instance_uuid)
        migrations.advance(s, instance_uuid, "confirmed")
        try:
            inst = db_instances.load(s, instance_uuid)  # its flavor is the new one now
        except db_instances.InstanceNotFound:  # deleted meanwhile: nothing to schedule
            return
        requestspec.update(s, inst, flavor=requestspec.flavor_fields(inst.flavor or {}))
    elif held is not None:  # the stored request still holds the old flavor
        claims.release(s, instance_uuid)
        claims.move(s, held, instance_uuid)
        _store_placement_of(s, instance_uuid, {})  # the old flavor's pins again


def fail_interrupted_builds(db: Database) -> list[str]:
    """After a restart of the all-in-one process: builds that were waiting for a host
    (their cast died with the process) go ERROR with a fault saying so, and any claim
    the scheduler made for them is freed. Unshelves of offloaded servers waiting for a
    host likewise get their task cleared (they stay SHELVED_OFFLOADED) and a fault.
    Only for the all-in-one: in scale-out another conductor may be working on them.
    Returns the uuids it changed."""

    failed = []
    with db.session() as s:
        rows = s.scalars(
            select(Instance).where(
                Instance.deleted.is_(False),
                Instance.host.is_(None),
                (Instance.vm_state == states.BUILDING) | (Instance.task_state == states.UNSHELVING),
            )
        ).all()
        for inst in rows:
            if inst.vm_state == states.BUILDING:
                db_instances.set_error(
                    s,
                    inst.uuid,
                    "Build was interrupted by a restart of stackbox before a host was chosen; "
                    "delete the server and create it again.",
                )
            else:
                db_instances.instance_update(
                    s, inst.uuid, {"task_state": None}, [states.UNSHELVING]
                )
                db_instances.fault_create(
                    s,
                    inst.uuid,
                    500,
                    "Unshelve was interrupted by a restart of stackbox before a host was "
                    "chosen; unshelve the server again.",
                    "",
                    None,
                )
            claims.release(s, inst.uuid)
            failed.append(inst.uuid)
    return failed
