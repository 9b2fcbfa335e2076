"""ConductorManager: the conductor's RPC endpoint, served on topic "conductor".

Every public method is callable over the bus (arguments and results JSON). Keep it
thin: validate, then delegate to the registry, to `instances.py` (the database writes
compute hosts ask for) or to `build.py` (workflows that need the scheduler). Sync
methods run in a worker thread (the bus does that); async ones on the loop.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select

from stackbox import bus as sbbus
from stackbox.compute import cloud, migrations
from stackbox.conductor import build
from stackbox.conductor import instances as db_instances
from stackbox.db import Database
from stackbox.db.base import utcnow
from stackbox.identity.models import Project, User
from stackbox.scheduler import claims
from stackbox.service import registry

LOG = logging.getLogger("stackbox.conductor")

# Lifetime of the tokens handed to compute hosts for image transfers.
SERVICE_TOKEN_SECONDS = 3600


class ConductorManager:
    """RPC endpoint of the conductor. `db` is the service database, `host` this
    conductor's host name; `bus` is needed for the workflows, `identity` (a
    TokenService) for `service_token`."""

    def __init__(
        self,
        db: Database,
        host: str,
        *,
        bus: sbbus.Bus | None = None,
        identity: Any = None,
    ) -> None:
        self.db = db
        self.host = host
        self.identity = identity
        self.workflows = build.Workflows(db, bus, host) if bus is not None else None

    async def ping(self, **kwargs: Any) -> dict[str, Any]:
        """Liveness probe: {"pong": True, "host": ..., "time": ISO-8601 UTC}."""
        return {"pong": True, "host": self.host, "time": utcnow().isoformat() + "Z"}

    def service_heartbeat(self, binary: str, topic: str, service_host: str) -> None:
        """Record a heartbeat cast by a service without database access (sync: the bus
        runs it in a worker thread). The reporting host is `service_host` because
        `host` is the bus's addressing keyword."""
        if not (binary and topic and service_host):
            raise ValueError("service_heartbeat needs binary, topic and service_host")
        with self.db.session() as s:
            registry.record_heartbeat(s, binary, topic, service_host)

    # --- workflows (cast by the API) --------------------------------------------------
    def _flows(self) -> build.Workflows:
        if self.workflows is None:
            raise RuntimeError("this conductor was started without a bus")
        return self.workflows

    async def build_instances(
        self,
        instance_uuids: list[str],
        request_spec: dict,
        request_id: str,
        admin_password: str | None = None,
        injected_files: list[dict] | None = None,
    ) -> None:
        await self._flows().build_instances(
            instance_uuids, request_spec, request_id, admin_password, injected_files
        )

    async def resize_instance(self, instance_uuid: str, new_flavor: dict, request_id: str) -> None:
        await self._flows().resize_instance(instance_uuid, new_flavor, request_id)

    async def unshelve_instance(self, instance_uuid: str, request_id: str) -> None:
        await self._flows().unshelve_instance(instance_uuid, request_id)

    # --- database writes for compute hosts (sync: run in worker threads) ---------------
    def instance_update(
        self,
        instance_uuid: str,
        values: dict,
        expected_task_state: list[str | None] | None = None,
    ) -> dict:
        with self.db.session() as s:
            return db_instances.instance_update(s, instance_uuid, values, expected_task_state)

    def action_event_start(
        self, instance_uuid: str, request_id: str, event: str, event_host: str
    ) -> None:
        with self.db.session() as s:
            db_instances.action_event_start(s, instance_uuid, request_id, event, event_host)

    def action_event_finish(
        self,
        instance_uuid: str,
        request_id: str,
        event: str,
        result: str,
        traceback: str | None = None,
    ) -> None:
        with self.db.session() as s:
            db_instances.action_event_finish(s, instance_uuid, request_id, event, result, traceback)

    def instance_fault_create(
        self, instance_uuid: str, code: int, message: str, details: str, fault_host: str
    ) -> None:
        with self.db.session() as s:
            db_instances.fault_create(s, instance_uuid, code, message, details, fault_host)

    def instance_destroyed(self, instance_uuid: str) -> None:
        with self.db.session() as s:
            db_instances.instance_destroyed(s, instance_uuid)

    def compute_node_update(self, compute_host: str, resources: dict) -> None:
        with self.db.session() as s:
            db_instances.compute_node_update(s, compute_host, resources)

    def cloud_identity(self) -> dict:
        """The cloud's id (created once), which compute hosts mark their guests with."""
        with self.db.session() as s:
            return cloud.load_or_create(s).to_dict()

    def instances_for_host(self, compute_host: str) -> list[dict]:
        with self.db.session() as s:
            return db_instances.instances_for_host(s, compute_host)

    def claim_queued_deletes(self, compute_host: str, older_than: float) -> list[dict]:
        with self.db.session() as s:
            return db_instances.claim_queued_deletes(s, compute_host, float(older_than))

    def release_resources(self, consumer_id: str) -> None:
        with self.db.session() as s:
            claims.release(s, consumer_id)

    def resize_claims_done(self, instance_uuid: str, confirmed: bool) -> dict:
        with self.db.session() as s:
            build.resize_claims_done(s, instance_uuid, confirmed)
            s.flush()
            return db_instances.instances_payload(s, instance_uuid)

    def migration_status(self, instance_uuid: str, status: str) -> str | None:
        """A compute host's step of the instance's migration (compute/migrations.py)."""
        with self.db.session() as s:
            return migrations.advance(s, instance_uuid, status)

    def fail_stuck_migration(self, instance_uuid: str) -> str | None:
        """At a host's start: the instance's migration left mid-step goes to error."""
        with self.db.session() as s:
            return migrations.fail_stuck(s, instance_uuid)

    def service_token(self, project_id: str, user_id: str) -> str:
        """A token of the instance's owner for its project, for image transfers."""
        if self.identity is None:
            raise RuntimeError("this conductor has no token service")
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.id == user_id))
            project = s.scalar(select(Project).where(Project.id == project_id))
            if user is None or project is None:
                raise LookupError(f"no user {user_id} or project {project_id}")
            expires = utcnow() + dt.timedelta(seconds=SERVICE_TOKEN_SECONDS)
            token, _ctx = self.identity.issue(
                s, user, ("token",), project=project, expires_at=expires
            )
        return str(token)
