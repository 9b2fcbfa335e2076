"""ComputeManager: the compute host's RPC endpoint, served on topic "compute" at its host.

Thin by design: each public method (exactly the messages of `rpcapi.ComputeAPI`)
serializes on the instance's uuid, records the action event `compute_<method>`, runs
one workflow module (boot, power, resize, snapshot, backup, rescue, console, recovery)
and reports the result through `rpcapi.ConductorAPI` -- the host has no database. On
error it records an instance fault (code 500, message, traceback), puts the instance in
ERROR or back to its previous vm_state (where Nova does that, e.g. a failed stop) and
finishes the event with "Error". Blocking driver and disk calls run in worker threads
(in the workflows).

`create(cfg, bus, host)` builds the real thing (libvirt URI choice, image cache, Image
API uploader); `start()` reports resources, repairs (recovery.init_host) and starts the
periodic tasks (power sync, resource reports, image cache, reclaim of soft-deleted
instances); `stop()` ends them. Not here: workflow logic, XML, disk commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import traceback
import uuid as uuidlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackbox import bus as sbbus
from stackbox.compute import (
    backup,
    boot,
    console,
    external_events,
    pci,
    power,
    recovery,
    rescue,
    resize,
    snapshot,
)
from stackbox.compute import states as st
from stackbox.compute.cloud import CloudRef, check_template
from stackbox.compute.hostinfo import uptime_text
from stackbox.compute.imagecache import (
    FileImageSource,
    HttpImageSource,
    ImageCache,
    ImageSource,
    backing_files,
)
from stackbox.compute.imageupload import ImageUploader
from stackbox.compute.rpcapi import ConductorAPI
from stackbox.virt import select
from stackbox.virt.driver import VirtDriver
from stackbox.virt.libvirt_driver import LibvirtDriver

LOG = logging.getLogger("stackbox.compute")

# Whose token the image cache uses for a download: the instance being worked on.
_OWNER: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "stackbox_compute_owner", default=None
)
GONE = ("UnexpectedTaskState", "InstanceNotFound")
Work = Callable[[], Awaitable[dict[str, Any] | None]]
# Seconds between looks for soft-deleted instances to reclaim (Nova's periodic spacing).
RECLAIM_PERIOD = 60


def instances_path(cfg: Any) -> Path:
    return Path(cfg.get("compute", "instances_path") or Path(cfg.state_dir) / "instances")


@dataclass
class Context:
    """What every workflow needs: config, hypervisor, conductor, image cache, uploader,
    and the cloud (its id names and marks the guests; known after `start`)."""

    cfg: Any
    driver: VirtDriver
    conductor: ConductorAPI
    host: str
    images: ImageCache
    uploader: ImageUploader
    instances_path: Path
    cloud: CloudRef | None = None

    def instance_dir(self, uuid: str) -> Path:
        if str(uuidlib.UUID(uuid)) != uuid.lower():
            raise ValueError(f"not an instance uuid: {uuid!r}")
        return self.instances_path / uuid

    async def update(
        self, uuid: str, values: dict[str, Any], expected: Sequence[str | None] | None = None
    ) -> dict[str, Any]:
        """conductor.instance_update (only if task_state is one of `expected`, if given)."""
        want = None if expected is None else list(expected)
        return await self.conductor.instance_update(uuid, values, want)


class ComputeManager:
    """The compute service of one host (see the module docstring)."""

    # Its own process starts and stops it; nothing on the bus may.
    NOT_RPC = frozenset({"start", "stop"})

    def __init__(
        self,
        cfg: Any,
        bus: sbbus.Bus,
        driver: VirtDriver,
        host: str,
        images: ImageCache,
        uploader: ImageUploader,
        cloud: CloudRef | None = None,
    ) -> None:
        self.cfg, self.bus, self.driver, self.host = cfg, bus, driver, host
        self.conductor = ConductorAPI(bus)
        self.ctx = Context(cfg, driver, self.conductor, host, images, uploader, instances_path(cfg))
        if cloud is not None:
            self._know(cloud)
        self.virt_description = "a virt driver given by the caller"
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}
        self._periodic: list[asyncio.Task[None]] = []

    # -- service life cycle -----------------------------------------------------------
    def _know(self, cloud: CloudRef) -> None:
        self.ctx.cloud = cloud
        self.driver.cloud_id = cloud.cloud_id

    async def start(self) -> None:
        """Learn the cloud's id, report resources, repair after a crash, start the
        periodic tasks."""
        cloud = CloudRef.from_dict(await self.conductor.cloud_identity())
        self._know(cloud)
        LOG.info("compute host %s of cloud %s", self.host, cloud.cloud_id)
        await self.report_resources()
        await recovery.init_host(self.ctx)
        sync = float(self.cfg.get("compute", "sync_power_state_interval"))
        report = float(self.cfg.get("compute", "resource_update_interval"))
        if sync > 0:
            self._periodic.append(asyncio.create_task(self._every(sync, self.sync_power)))
        if report > 0:
            self._periodic.append(asyncio.create_task(self._every(report, self.report_resources)))
        evict = float(self.cfg.get("compute", "image_cache_manager_interval"))
        if evict > 0:
            self._periodic.append(asyncio.create_task(self._every(evict, self.evict_images)))
        reclaim = int(self.cfg.get("compute", "reclaim_instance_interval"))
        if reclaim > 0:  # Nova's periodic spacing, or the interval itself when shorter
            every = float(min(reclaim, RECLAIM_PERIOD))
            self._periodic.append(asyncio.create_task(self._every(every, self.reclaim_deleted)))

    async def stop(self) -> None:
        tasks, self._periodic = self._periodic, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _every(self, seconds: float, fn: Callable[[], Awaitable[Any]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await fn()
            except Exception:
                LOG.exception("periodic task %s failed", getattr(fn, "__name__", fn))

    async def evict_images(self) -> list[str]:
        """Remove cached image bases no instance disk is backed by and unused for longer
        than compute.image_cache_max_age (Nova's image cache manager)."""
        path = self.ctx.instances_path
        removed = await asyncio.to_thread(
            self.ctx.images.evict,
            float(self.cfg.get("compute", "image_cache_max_age")),
            lambda: backing_files(path),
        )
        return [str(p) for p in removed]

    def get_host_uptime(self) -> str | None:
        """This host's `uptime` line, for the hypervisor uptime API."""
        return uptime_text()

    async def report_resources(self) -> None:
        res = await asyncio.to_thread(self.driver.host_resources)
        get = self.cfg.get
        data = {
            "hostname": res.hostname,
            "vcpus": res.vcpus,
            "memory_mb": res.memory_mb,
            "local_gb": res.local_gb,
            "free_disk_gb": res.free_disk_gb,
            "hypervisor_type": res.hypervisor_type,
            "hypervisor_version": res.hypervisor_version,
            "arch": res.arch,
            "cpu_info": res.cpu_info,
            "supported_instances": [list(t) for t in res.supported_instances],
            "cpu_allocation_ratio": get("compute", "cpu_allocation_ratio"),
            "ram_allocation_ratio": get("compute", "ram_allocation_ratio"),
            "disk_allocation_ratio": get("compute", "disk_allocation_ratio"),
            "reserved_host_memory_mb": get("compute", "reserved_host_memory_mb"),
            "reserved_host_disk_mb": get("compute", "reserved_host_disk_mb"),
            "reserved_host_cpus": get("compute", "reserved_host_cpus"),
            "availability_zone": get("compute", "default_availability_zone"),
        }
        data.update(placement_report(self.cfg, res))
        await self.conductor.compute_node_update(self.host, data)

    async def reclaim_deleted(self) -> list[str]:
        """Delete for good the SOFT_DELETED instances of this host whose
        compute.reclaim_instance_interval has passed (Nova's _reclaim_queued_deletes);
        the conductor marks them deleting first, so a racing restore gets a 409.
        Returns the uuids reclaimed."""
        interval = int(self.cfg.get("compute", "reclaim_instance_interval"))
        if interval <= 0:
            return []
        done = []
        for inst in await self.conductor.claim_queued_deletes(self.host, float(interval)):
            uuid = inst["uuid"]
            LOG.info("reclaiming deleted instance %s", uuid)
            try:
                async with self._lock(uuid):
                    await asyncio.to_thread(boot.cleanup, self.ctx, uuid)
                    await self.conductor.instance_destroyed(uuid)
            except Exception:  # left in task deleting: the next start finishes it
                LOG.exception("reclaim of instance %s failed", uuid)
                continue
            done.append(uuid)
        return done

    async def sync_power(self) -> int:
        return await recovery.sync_power_states(self.ctx, self._busy)

    # -- per-instance serialization ---------------------------------------------------
    def _busy(self, uuid: str) -> bool:
        lock = self._locks.get(uuid)
        return lock is not None and lock.locked()

    @contextlib.asynccontextmanager
    async def _lock(self, uuid: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(uuid, asyncio.Lock())
        self._users[uuid] = self._users.get(uuid, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[uuid] -= 1
            if not self._users[uuid]:
                del self._users[uuid], self._locks[uuid]

    async def _action(
        self,
        method: str,
        instance: dict[str, Any],
        request_id: str,
        work: Work,
        *,
        expected: list[str | None] | None,
        on_error: str = st.ERROR,  # st.ERROR, or "revert" (keep the vm_state)
    ) -> None:
        uuid, event = instance["uuid"], f"compute_{method}"
        async with self._lock(uuid):
            token = _OWNER.set((instance["project_id"], instance["user_id"]))
            try:
                await self._quiet(
                    self.conductor.action_event_start(uuid, request_id, event, self.host)
                )
                try:
                    values = await work()
                    if values is not None:
                        await self.ctx.update(uuid, values, expected)
                except Exception as exc:
                    await self._failed(method, instance, request_id, exc, on_error)
                    return
                await self._quiet(
                    self.conductor.action_event_finish(uuid, request_id, event, "Success")
                )
            finally:
                _OWNER.reset(token)

    async def _quiet(self, aw: Awaitable[Any]) -> None:
        """Run a conductor report; a failure is logged (a cast has nobody to tell)."""
        try:
            await aw
        except Exception:
            LOG.exception("report to the conductor failed")

    async def _failed(
        self,
        method: str,
        instance: dict[str, Any],
        request_id: str,
        exc: Exception,
        on_error: str,
    ) -> None:
        uuid, event = instance["uuid"], f"compute_{method}"
        tb = traceback.format_exc()
        gone = isinstance(exc, sbbus.RemoteError) and exc.exc_type in GONE
        if gone:
            # Deleted (or another action took over) meanwhile: nothing to mark.
            LOG.info("instance %s changed under %s: %s", uuid, method, exc)
        else:
            LOG.error("%s of instance %s failed: %s", method, uuid, exc, exc_info=exc)
            message = str(exc) or type(exc).__name__
            await self._quiet(
                self.conductor.instance_fault_create(uuid, 500, message, tb, self.host)
            )
            if on_error == st.ERROR:
                values: dict[str, Any] = {"vm_state": st.ERROR, "task_state": None}
            else:
                values = {"vm_state": instance.get("vm_state"), "task_state": None}
            await self._quiet(self.ctx.update(uuid, values))
        if method == "build_and_run_instance" and not gone:
            await self._quiet(self.conductor.release_resources(uuid))
        await self._quiet(self.conductor.action_event_finish(uuid, request_id, event, "Error", tb))

    # -- RPC: life cycle --------------------------------------------------------------
    async def build_and_run_instance(
        self,
        instance: dict,
        request_id: str,
        admin_password: str | None = None,
        injected_files: list[dict] | None = None,
    ) -> None:
        await self._action(
            "build_and_run_instance",
            instance,
            request_id,
            lambda: boot.build(self.ctx, instance, admin_password, injected_files),
            expected=[st.SPAWNING],
        )
        # A build whose final report failed because the instance was deleted meanwhile
        # leaves a guest behind: the delete that follows (terminate) removes it.

    async def terminate_instance(self, instance: dict, request_id: str) -> None:
        uuid = instance["uuid"]

        async def work() -> None:
            await asyncio.to_thread(boot.cleanup, self.ctx, uuid)
            await self.conductor.instance_destroyed(uuid)

        await self._action("terminate_instance", instance, request_id, work, expected=None)

    async def rebuild_instance(
        self,
        instance: dict,
        request_id: str,
        admin_password: str | None = None,
        injected_files: list[dict] | None = None,
    ) -> None:
        await self._action(
            "rebuild_instance",
            instance,
            request_id,
            lambda: boot.rebuild(self.ctx, instance, admin_password, injected_files),
            expected=[st.REBUILD_SPAWNING],
        )

    async def soft_delete_instance(self, instance: dict, request_id: str) -> None:
        await self._action(
            "soft_delete_instance",
            instance,
            request_id,
            lambda: power.soft_delete(self.ctx, instance),
            expected=[st.SOFT_DELETING],
            on_error="revert",
        )

    async def restore_instance(self, instance: dict, request_id: str) -> None:
        await self._action(
            "restore_instance",
            instance,
            request_id,
            lambda: power.restore(self.ctx, instance),
            expected=[st.RESTORING],
            on_error="revert",
        )

    # -- RPC: power -------------------------------------------------------------------
    async def reboot_instance(self, instance: dict, request_id: str, reboot_type: str) -> None:
        hard = str(reboot_type).upper() == "HARD"
        expected: list[str | None] = (
            [st.REBOOTING_HARD, st.REBOOT_PENDING_HARD, st.REBOOT_STARTED_HARD]
            if hard
            else [st.REBOOTING, st.REBOOT_PENDING, st.REBOOT_STARTED]
        )
        await self._action(
            "reboot_instance",
            instance,
            request_id,
            lambda: power.reboot(self.ctx, instance, reboot_type),
            expected=expected,
        )

    async def _power(
        self, method: str, instance: dict, request_id: str, fn: Any, task: str
    ) -> None:
        await self._action(
            method,
            instance,
            request_id,
            lambda: fn(self.ctx, instance),
            expected=[task],
            on_error="revert",
        )

    async def stop_instance(self, instance: dict, request_id: str) -> None:
        await self._power("stop_instance", instance, request_id, power.stop, st.POWERING_OFF)

    async def start_instance(self, instance: dict, request_id: str) -> None:
        await self._power("start_instance", instance, request_id, power.start, st.POWERING_ON)

    async def pause_instance(self, instance: dict, request_id: str) -> None:
        await self._power("pause_instance", instance, request_id, power.pause, st.PAUSING)

    async def unpause_instance(self, instance: dict, request_id: str) -> None:
        await self._power("unpause_instance", instance, request_id, power.unpause, st.UNPAUSING)

    async def suspend_instance(self, instance: dict, request_id: str) -> None:
        await self._power("suspend_instance", instance, request_id, power.suspend, st.SUSPENDING)

    async def resume_instance(self, instance: dict, request_id: str) -> None:
        await self._power("resume_instance", instance, request_id, power.resume, st.RESUMING)

    # -- RPC: resize (same host) ------------------------------------------------------
    async def resize_instance(self, instance: dict, request_id: str, new_flavor: dict) -> None:
        await self._action(
            "resize_instance",
            instance,
            request_id,
            lambda: resize.resize_instance(self.ctx, instance, new_flavor),
            expected=[st.RESIZE_FINISH],
        )

    async def confirm_resize(self, instance: dict, request_id: str) -> None:
        await self._action(
            "confirm_resize",
            instance,
            request_id,
            lambda: resize.confirm_resize(self.ctx, instance),
            expected=None,
        )

    async def revert_resize(self, instance: dict, request_id: str) -> None:
        await self._action(
            "revert_resize",
            instance,
            request_id,
            lambda: resize.revert_resize(self.ctx, instance),
            expected=None,
        )

    # -- RPC: images ------------------------------------------------------------------
    async def snapshot_instance(self, instance: dict, request_id: str, image_id: str) -> None:
        await self._action(
            "snapshot_instance",
            instance,
            request_id,
            lambda: snapshot.snapshot_instance(self.ctx, instance, image_id),
            expected=[st.IMAGE_UPLOADING],
            on_error="revert",
        )

    async def backup_instance(
        self, instance: dict, request_id: str, image_id: str, backup_type: str, rotation: int
    ) -> None:
        await self._action(
            "backup_instance",
            instance,
            request_id,
            lambda: backup.backup_instance(self.ctx, instance, image_id, backup_type, rotation),
            expected=None,
            on_error="revert",
        )

    async def shelve_instance(
        self, instance: dict, request_id: str, image_id: str, offload: bool
    ) -> None:
        await self._action(
            "shelve_instance",
            instance,
            request_id,
            lambda: snapshot.shelve_instance(self.ctx, instance, image_id, offload),
            expected=[st.SHELVING_IMAGE_UPLOADING],
            on_error="revert",
        )

    async def shelve_offload_instance(self, instance: dict, request_id: str) -> None:
        await self._action(
            "shelve_offload_instance",
            instance,
            request_id,
            lambda: snapshot.shelve_offload_instance(self.ctx, instance),
            expected=None,
        )

    async def unshelve_instance(self, instance: dict, request_id: str) -> None:
        await self._action(
            "unshelve_instance",
            instance,
            request_id,
            lambda: snapshot.unshelve_instance(self.ctx, instance),
            expected=[st.UNSHELVING, st.SPAWNING],  # the conductor's placement sets spawning
        )

    # -- RPC: rescue -----------------------------------------------------------------
    async def rescue_instance(
        self,
        instance: dict,
        request_id: str,
        rescue_password: str | None = None,
        rescue_image: dict | None = None,
    ) -> None:
        await self._action(
            "rescue_instance",
            instance,
            request_id,
            lambda: rescue.rescue_instance(self.ctx, instance, rescue_password, rescue_image),
            expected=[st.RESCUING],
        )

    async def unrescue_instance(self, instance: dict, request_id: str) -> None:
        await self._action(
            "unrescue_instance",
            instance,
            request_id,
            lambda: rescue.unrescue_instance(self.ctx, instance),
            expected=[st.UNRESCUING],
        )

    async def get_console_output(self, instance: dict, length: int | None = None) -> str:
        idir = self.ctx.instance_dir(instance["uuid"])
        return await asyncio.to_thread(console.get_console_output, idir, length)

    async def get_diagnostics(self, instance: dict) -> dict:
        """The guest's activity counters from the hypervisor (os-server-diagnostics)."""
        return await asyncio.to_thread(self.driver.diagnostics, instance["uuid"])

    async def external_instance_event(self, events: list[dict]) -> None:
        """Events from other services about instances here (`external_events.py`)."""
        await external_events.dispatch(self.ctx, self.host, events)


async def create(cfg: Any, bus: sbbus.Bus, host: str) -> ComputeManager:
    """The compute service of this host, on the libvirt URI `select.choose_uri` picks."""
    check_template(cfg.get("compute", "instance_name_template"))  # fail early if bad
    uri, reason = await asyncio.to_thread(select.choose_uri, cfg)
    LOG.info("compute driver: %s", reason)
    path = instances_path(cfg)
    driver = LibvirtDriver(
        uri,
        select.guest_host_config(cfg, uri),
        path,
        float(cfg.get("compute", "shutdown_timeout")),
    )
    conductor = ConductorAPI(bus)

    async def token() -> str:
        owner = _OWNER.get()
        if owner is None:
            raise RuntimeError("no instance owner to fetch an image for")
        return await conductor.service_token(*owner)

    store = Path(cfg.state_dir) / "images"
    source: ImageSource
    if store.is_dir():
        source = FileImageSource(store)
    else:
        source = HttpImageSource(cfg.public_url + "/image", token)
    images = ImageCache(path / "_base", source)
    uploader = ImageUploader(cfg.public_url + "/image", conductor.service_token)
    manager = ComputeManager(cfg, bus, driver, host, images, uploader)
    manager.virt_description = reason
    return manager


def placement_report(cfg: Any, res: Any) -> dict[str, Any]:
    """numa_topology and the whitelisted PCI devices ([pci] passthrough_whitelist) for
    compute_node_update; the whitelist is checked here, so a bad one fails loudly."""
    try:
        whitelist = pci.parse_whitelist(cfg.get("pci", "passthrough_whitelist"))
    except KeyError:  # a config without the [pci] section
        whitelist = []
    devices = getattr(res, "pci_devices", None) or []
    return {
        "numa_topology": getattr(res, "numa_topology", None) or {},
        "pci_devices": pci.whitelisted(devices, whitelist),
    }
