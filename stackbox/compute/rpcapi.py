"""The compute RPC API in one place: every message the API, conductor, scheduler and
compute hosts send each other, as typed client methods over the bus (local or AMQP).

    API ──cast──▶ conductor.build_instances / resize_instance / unshelve_instance
    conductor ──call──▶ scheduler.select_destinations (claims made atomically there)
    API, conductor ──cast──▶ compute@host.<action>(instance=payload, request_id=...)
    API ──call──▶ compute@host.get_console_output
    API ──cast──▶ compute@host.external_instance_event (events from other services)
    compute ──call──▶ conductor.instance_update / action_event_* / instance_fault_create /
                      instance_destroyed / compute_node_update / instances_for_host /
                      migration_status / fail_stuck_migration

Compute hosts hold no database credentials: they get an instance as a JSON payload
(`payload.instance_payload`) and report every change through the conductor.

`RPC_VERSION` is bumped when a message changes shape; managers check nothing yet
because every role of one deployment runs the same stackbox.
"""

from __future__ import annotations

from typing import Any

from stackbox import bus as sbbus

RPC_VERSION = "1.1"  # 1.1: injected_files on build and rebuild

COMPUTE_TOPIC = "compute"
CONDUCTOR_TOPIC = "conductor"
SCHEDULER_TOPIC = "scheduler"

# Console output is read synchronously: the caller waits at most this long.
CONSOLE_TIMEOUT = 30.0


class ComputeAPI:
    """Messages to one compute host (`host` is its service host name)."""

    def __init__(self, bus: sbbus.Bus) -> None:
        self.bus = bus

    async def _cast(self, host: str, method: str, **kw: Any) -> None:
        await self.bus.cast(COMPUTE_TOPIC, method, host=host, **kw)

    async def build_and_run_instance(
        self,
        host: str,
        instance: dict,
        request_id: str,
        admin_password: str | None = None,
        injected_files: list[dict] | None = None,
    ) -> None:
        await self._cast(
            host,
            "build_and_run_instance",
            instance=instance,
            request_id=request_id,
            admin_password=admin_password,
            injected_files=injected_files,
        )

    async def terminate_instance(self, host: str, instance: dict, request_id: str) -> None:
        await self._cast(host, "terminate_instance", instance=instance, request_id=request_id)

    async def reboot_instance(
        self, host: str, instance: dict, request_id: str, reboot_type: str
    ) -> None:
        await self._cast(
            host,
            "reboot_instance",
            instance=instance,
            request_id=request_id,
            reboot_type=reboot_type,
        )

    async def simple_action(self, host: str, action: str, instance: dict, request_id: str) -> None:
        """stop_instance, start_instance, pause_instance, unpause_instance,
        suspend_instance, resume_instance, confirm_resize, revert_resize,
        shelve_offload_instance: the ones that need nothing but the instance."""
        if action not in SIMPLE_ACTIONS:
            raise ValueError(f"not a simple compute action: {action}")
        await self._cast(host, action, instance=instance, request_id=request_id)

    async def rebuild_instance(
        self,
        host: str,
        instance: dict,
        request_id: str,
        admin_password: str | None = None,
        injected_files: list[dict] | None = None,
    ) -> None:
        """`instance` already carries the new image_ref/image_meta; `injected_files` are
        a personality's files (compute/api/personality.py)."""
        await self._cast(
            host,
            "rebuild_instance",
            instance=instance,
            request_id=request_id,
            admin_password=admin_password,
            injected_files=injected_files,
        )

    async def resize_instance(
        self, host: str, instance: dict, request_id: str, new_flavor: dict
    ) -> None:
        await self._cast(
            host,
            "resize_instance",
            instance=instance,
            request_id=request_id,
            new_flavor=new_flavor,
        )

    async def snapshot_instance(
        self, host: str, instance: dict, request_id: str, image_id: str
    ) -> None:
        await self._cast(
            host, "snapshot_instance", instance=instance, request_id=request_id, image_id=image_id
        )

    async def backup_instance(
        self,
        host: str,
        instance: dict,
        request_id: str,
        image_id: str,
        backup_type: str,
        rotation: int,
    ) -> None:
        """A snapshot into `image_id`, then the oldest backups of the instance and
        `backup_type` beyond `rotation` are deleted."""
        await self._cast(
            host,
            "backup_instance",
            instance=instance,
            request_id=request_id,
            image_id=image_id,
            backup_type=backup_type,
            rotation=rotation,
        )

    async def soft_delete_instance(self, host: str, instance: dict, request_id: str) -> None:
        """Power the guest off and mark the instance SOFT_DELETED (resources kept)."""
        await self._cast(host, "soft_delete_instance", instance=instance, request_id=request_id)

    async def restore_instance(self, host: str, instance: dict, request_id: str) -> None:
        """Power a SOFT_DELETED instance's guest back on: ACTIVE again."""
        await self._cast(host, "restore_instance", instance=instance, request_id=request_id)

    async def shelve_instance(
        self, host: str, instance: dict, request_id: str, image_id: str, offload: bool
    ) -> None:
        await self._cast(
            host,
            "shelve_instance",
            instance=instance,
            request_id=request_id,
            image_id=image_id,
            offload=offload,
        )

    async def unshelve_instance(self, host: str, instance: dict, request_id: str) -> None:
        await self._cast(host, "unshelve_instance", instance=instance, request_id=request_id)

    async def rescue_instance(
        self,
        host: str,
        instance: dict,
        request_id: str,
        rescue_password: str,
        rescue_image: dict | None = None,
    ) -> None:
        """Boot the guest from a rescue disk of `rescue_image` (the image's copy the API
        made, as `image_meta`; None: the instance's own image)."""
        await self._cast(
            host,
            "rescue_instance",
            instance=instance,
            request_id=request_id,
            rescue_password=rescue_password,
            rescue_image=rescue_image,
        )

    async def get_console_output(self, host: str, instance: dict, length: int | None) -> str:
        result = await self.bus.call(
            COMPUTE_TOPIC,
            "get_console_output",
            host=host,
            timeout=CONSOLE_TIMEOUT,
            instance=instance,
            length=length,
        )
        return str(result)

    async def get_diagnostics(self, host: str, instance: dict) -> dict:
        """The guest's diagnostics from its compute host (server diagnostics API)."""
        result = await self.bus.call(
            COMPUTE_TOPIC, "get_diagnostics", host=host, timeout=CONSOLE_TIMEOUT, instance=instance
        )
        return dict(result)

    async def external_instance_event(self, host: str, events: list[dict]) -> None:
        """Events from other services (POST /os-server-external-events) about
        instances on `host`, each {"server_uuid", "name", "status", "tag"?}."""
        await self._cast(host, "external_instance_event", events=events)

    async def get_host_uptime(self, host: str) -> str | None:
        """The host's `uptime` line (hypervisor uptime API); a short wait: a host that
        does not answer shows none."""
        result = await self.bus.call(
            COMPUTE_TOPIC, "get_host_uptime", host=host, timeout=UPTIME_TIMEOUT
        )
        return None if result is None else str(result)


UPTIME_TIMEOUT = 5.0

SIMPLE_ACTIONS = frozenset(
    {
        "stop_instance",
        "start_instance",
        "pause_instance",
        "unpause_instance",
        "suspend_instance",
        "resume_instance",
        "confirm_resize",
        "revert_resize",
        "shelve_offload_instance",
        "unrescue_instance",
    }
)


class ConductorAPI:
    """Messages to the conductor (any conductor: shared topic)."""

    def __init__(self, bus: sbbus.Bus) -> None:
        self.bus = bus

    # --- from the API: workflows that need the scheduler ---------------------
    async def build_instances(
        self,
        instance_uuids: list[str],
        request_spec: dict,
        request_id: str,
        admin_password: str | None = None,
        injected_files: list[dict] | None = None,
    ) -> None:
        await self.bus.cast(
            CONDUCTOR_TOPIC,
            "build_instances",
            instance_uuids=instance_uuids,
            request_spec=request_spec,
            request_id=request_id,
            admin_password=admin_password,
            injected_files=injected_files,
        )

    async def resize_instance(self, instance_uuid: str, new_flavor: dict, request_id: str) -> None:
        await self.bus.cast(
            CONDUCTOR_TOPIC,
            "resize_instance",
            instance_uuid=instance_uuid,
            new_flavor=new_flavor,
            request_id=request_id,
        )

    async def unshelve_instance(self, instance_uuid: str, request_id: str) -> None:
        await self.bus.cast(
            CONDUCTOR_TOPIC, "unshelve_instance", instance_uuid=instance_uuid, request_id=request_id
        )

    # --- from compute hosts: every database write they need -----------------
    async def instance_update(
        self,
        instance_uuid: str,
        values: dict,
        expected_task_state: list[str | None] | None = None,
    ) -> dict:
        """Apply `values` (column -> JSON value; datetimes as ISO strings) and return the
        new payload. With `expected_task_state`, only if the row's task_state is one of
        them; else RemoteError(exc_type "UnexpectedTaskState"). A deleted row gives
        RemoteError(exc_type "InstanceNotFound")."""
        result: dict = await self.bus.call(
            CONDUCTOR_TOPIC,
            "instance_update",
            instance_uuid=instance_uuid,
            values=values,
            expected_task_state=expected_task_state,
        )
        return result

    async def action_event_start(
        self, instance_uuid: str, request_id: str, event: str, event_host: str
    ) -> None:
        await self.bus.call(
            CONDUCTOR_TOPIC,
            "action_event_start",
            instance_uuid=instance_uuid,
            request_id=request_id,
            event=event,
            event_host=event_host,
        )

    async def action_event_finish(
        self,
        instance_uuid: str,
        request_id: str,
        event: str,
        result: str,
        traceback: str | None = None,
    ) -> None:
        """`result` is "Success" or "Error"; an Error marks the action's message "Error"."""
        await self.bus.call(
            CONDUCTOR_TOPIC,
            "action_event_finish",
            instance_uuid=instance_uuid,
            request_id=request_id,
            event=event,
            result=result,
            traceback=traceback,
        )

    async def instance_fault_create(
        self, instance_uuid: str, code: int, message: str, details: str, fault_host: str
    ) -> None:
        await self.bus.call(
            CONDUCTOR_TOPIC,
            "instance_fault_create",
            instance_uuid=instance_uuid,
            code=code,
            message=message,
            details=details,
            fault_host=fault_host,
        )

    async def instance_destroyed(self, instance_uuid: str) -> None:
        """The host has removed the guest and its files: mark the row deleted and free
        every allocation it holds."""
        await self.bus.call(CONDUCTOR_TOPIC, "instance_destroyed", instance_uuid=instance_uuid)

    async def compute_node_update(self, compute_host: str, resources: dict) -> None:
        """Upsert the host's compute node (`resources` = HostResources as a dict plus the
        allocation ratios and reservations from the host's config)."""
        await self.bus.call(
            CONDUCTOR_TOPIC,
            "compute_node_update",
            compute_host=compute_host,
            resources=resources,
        )

    async def cloud_identity(self) -> dict:
        """The cloud's id and naming threshold (`compute.cloud.CloudRef.to_dict`)."""
        result: dict = await self.bus.call(CONDUCTOR_TOPIC, "cloud_identity")
        return result

    async def instances_for_host(self, compute_host: str) -> list[dict]:
        """Payloads of every non-deleted instance assigned to the host."""
        result: list[dict] = await self.bus.call(
            CONDUCTOR_TOPIC, "instances_for_host", compute_host=compute_host
        )
        return result

    async def claim_queued_deletes(self, compute_host: str, older_than: float) -> list[dict]:
        """Payloads of the host's SOFT_DELETED instances deleted more than `older_than`
        seconds ago, each now in task_state deleting (so a restore can no longer win):
        the host removes their guests and reports `instance_destroyed`."""
        result: list[dict] = await self.bus.call(
            CONDUCTOR_TOPIC,
            "claim_queued_deletes",
            compute_host=compute_host,
            older_than=older_than,
        )
        return result

    async def release_resources(self, consumer_id: str) -> None:
        """Free the allocations of `consumer_id` (an instance uuid or `migration:<uuid>`)."""
        await self.bus.call(CONDUCTOR_TOPIC, "release_resources", consumer_id=consumer_id)

    async def resize_claims_done(self, instance_uuid: str, confirmed: bool) -> dict:
        """After confirm (`confirmed`): free the source side `migration:<uuid>` (the
        migration is then `confirmed`). After revert: free the new flavor's claim and
        give the old one (and its NUMA placement) back to the instance. Returns the
        instance payload as it is then."""
        result: dict = await self.bus.call(
            CONDUCTOR_TOPIC,
            "resize_claims_done",
            instance_uuid=instance_uuid,
            confirmed=confirmed,
        )
        return result

    async def migration_status(self, instance_uuid: str, status: str) -> str | None:
        """Move the instance's migration to `status` (a step of compute/migrations.py
        that follows its current one); returns the migration's uuid, None if none moved."""
        result: str | None = await self.bus.call(
            CONDUCTOR_TOPIC, "migration_status", instance_uuid=instance_uuid, status=status
        )
        return result

    async def fail_stuck_migration(self, instance_uuid: str) -> str | None:
        """After a crash: the instance's migration left mid-step becomes `error`."""
        result: str | None = await self.bus.call(
            CONDUCTOR_TOPIC, "fail_stuck_migration", instance_uuid=instance_uuid
        )
        return result

    async def service_token(self, project_id: str, user_id: str) -> str:
        """A short-lived token of `user_id` scoped to `project_id`, for a compute host to
        talk to the Image API on the instance owner's behalf (download, snapshot upload),
        as Nova passes the user's token along."""
        result: str = await self.bus.call(
            CONDUCTOR_TOPIC, "service_token", project_id=project_id, user_id=user_id
        )
        return result


class SchedulerAPI:
    def __init__(self, bus: sbbus.Bus) -> None:
        self.bus = bus

    async def select_destinations(
        self, request_spec: dict, instance_uuids: list[str]
    ) -> list[dict]:
        """One destination per instance uuid, each already claimed:
        [{"host": ..., "node": ..., "compute_node_id": ...}]. Raises RemoteError with
        exc_type "NoValidHost" when any instance cannot be placed (and then claims nothing).

        request_spec: the dict stackbox/compute/requestspec.py describes ("flavor",
        "image", "availability_zone", "force_host", "ignore_hosts", "scheduler_hints",
        "group" with "hosts", ...)."""
        result: list[dict] = await self.bus.call(
            SCHEDULER_TOPIC,
            "select_destinations",
            request_spec=request_spec,
            instance_uuids=instance_uuids,
        )
        return result
