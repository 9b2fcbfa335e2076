"""Test support for the compute manager tests: `RecordingConductor`, a named in-test
conductor endpoint (served on topic "conductor" of a local bus) that keeps instance
payloads in a dict and records every report; `ComputeRig`, a ComputeManager on the REAL
LibvirtDriver with libvirt's own test:///default, a real image cache and real disks."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import random
import uuid as uuidlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackbox import bus as sbbus
from stackbox import config, privileged
from stackbox.compute import payload
from stackbox.compute.cloud import CloudRef
from stackbox.compute.imagecache import FileImageSource, ImageCache
from stackbox.compute.imageupload import ImageUploader
from stackbox.compute.manager import ComputeManager
from stackbox.virt import select
from stackbox.virt.libvirt_driver import LibvirtDriver

TEST_URI = "test:///default"
HOST = "cmp1"
# The rigs' cloud: one per test run, so runs sharing a libvirtd never meet.
CLOUD = CloudRef(uuidlib.uuid4().hex)


class UnexpectedTaskState(Exception):
    pass


class InstanceNotFound(Exception):
    pass


@dataclass
class RecordingConductor:
    """The conductor's compute-facing methods over a dict of payloads."""

    instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (uuid, event, result)
    faults: list[dict[str, Any]] = field(default_factory=list)
    destroyed: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    claims_done: list[tuple[str, bool]] = field(default_factory=list)
    migration_steps: list[tuple[str, str]] = field(default_factory=list)  # (uuid, status)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[tuple[str, str]] = field(default_factory=list)

    def instance_update(
        self,
        instance_uuid: str,
        values: dict[str, Any],
        expected_task_state: list[str | None] | None = None,
    ) -> dict[str, Any]:
        inst = self.instances.get(instance_uuid)
        if inst is None:
            raise InstanceNotFound(instance_uuid)
        if expected_task_state is not None and inst["task_state"] not in expected_task_state:
            raise UnexpectedTaskState(
                f"task_state {inst['task_state']!r} not in {expected_task_state!r}"
            )
        payload.parse_values(values)  # only updatable columns
        inst.update(copy.deepcopy(values))
        self.updates.append((instance_uuid, copy.deepcopy(values)))
        return inst

    def action_event_start(
        self, instance_uuid: str, request_id: str, event: str, event_host: str
    ) -> None:
        self.events.append((instance_uuid, event, "start"))

    def action_event_finish(
        self,
        instance_uuid: str,
        request_id: str,
        event: str,
        result: str,
        traceback: str | None = None,
    ) -> None:
        self.events.append((instance_uuid, event, result))

    def instance_fault_create(
        self, instance_uuid: str, code: int, message: str, details: str, fault_host: str
    ) -> None:
        self.faults.append(
            {"uuid": instance_uuid, "code": code, "message": message, "details": details}
        )

    def instance_destroyed(self, instance_uuid: str) -> None:
        self.destroyed.append(instance_uuid)
        self.instances.pop(instance_uuid, None)

    def compute_node_update(self, compute_host: str, resources: dict[str, Any]) -> None:
        self.nodes.append({"host": compute_host, **resources})

    def instances_for_host(self, compute_host: str) -> list[dict[str, Any]]:
        return [i for i in self.instances.values() if i.get("host") == compute_host]

    def claim_queued_deletes(self, compute_host: str, older_than: float) -> list[dict[str, Any]]:
        """Every SOFT_DELETED instance of the host without a task (the tests set no
        deleted_at), now deleting."""
        out = []
        for inst in self.instances_for_host(compute_host):
            if inst["vm_state"] == "soft-delete" and inst["task_state"] is None:
                inst["task_state"] = "deleting"
                out.append(copy.deepcopy(inst))
        return out

    def release_resources(self, consumer_id: str) -> None:
        self.released.append(consumer_id)

    def resize_claims_done(self, instance_uuid: str, confirmed: bool) -> None:
        self.claims_done.append((instance_uuid, confirmed))

    def migration_status(self, instance_uuid: str, status: str) -> None:
        self.migration_steps.append((instance_uuid, status))

    def fail_stuck_migration(self, instance_uuid: str) -> None:
        self.migration_steps.append((instance_uuid, "stuck?"))

    def service_token(self, project_id: str, user_id: str) -> str:
        self.tokens.append((project_id, user_id))
        return f"token-{project_id}-{user_id}"

    def cloud_identity(self) -> dict[str, Any]:
        return CLOUD.to_dict()


FLAVOR = {
    "flavorid": "1",
    "name": "m1.tiny",
    "vcpus": 1,
    "memory_mb": 128,
    "root_gb": 1,
    "ephemeral_gb": 0,
    "swap": 0,
    "extra_specs": {},
}


def make_image(store: Path, image_id: str, size: str = "16M") -> Path:
    """A real qcow2 image file in the image store directory."""
    store.mkdir(parents=True, exist_ok=True)
    path = store / image_id
    privileged.run(["qemu-img", "create", "-q", "-f", "qcow2", "--", str(path), size])
    return path


_IDS = itertools.count(random.randrange(1 << 20, 1 << 28))


def make_instance(image_id: str, **overrides: Any) -> dict[str, Any]:
    uuid = str(uuidlib.uuid4())
    inst: dict[str, Any] = {
        "uuid": uuid,
        "name": f"instance-{next(_IDS):08x}",
        "display_name": "vm1",
        "hostname": "vm1",
        "project_id": "p1",
        "user_id": "u1",
        "image_ref": image_id,
        "kernel_id": None,
        "ramdisk_id": None,
        "flavor": dict(FLAVOR),
        "old_flavor": None,
        "new_flavor": None,
        "image_meta": {"id": image_id, "name": "tiny", "disk_format": "qcow2", "properties": {}},
        "key_name": None,
        "key_data": None,
        "user_data": None,
        "metadata": {},
        "vm_state": "building",
        "task_state": "spawning",
        "power_state": 0,
        "host": HOST,
        "node": HOST,
        "availability_zone": "nova",
        "config_drive": "",
        "launch_index": 0,
        "reservation_id": "r-1",
        "root_device_name": None,
        "network_info": [],
        "block_devices": [],
        "system_metadata": {},
        "created_at": dt.datetime(2026, 11, 23, 12, 0).isoformat(),
        "launched_at": None,
    }
    inst.update(overrides)
    return inst


@dataclass
class ComputeRig:
    bus: sbbus.Bus
    conductor: RecordingConductor
    manager: ComputeManager
    driver: LibvirtDriver
    store: Path
    instances_path: Path

    def add(self, inst: dict[str, Any]) -> dict[str, Any]:
        """Register the instance with the conductor; returns the payload to cast."""
        self.conductor.instances[inst["uuid"]] = copy.deepcopy(inst)
        return copy.deepcopy(inst)

    def current(self, uuid: str) -> dict[str, Any]:
        """The instance as the conductor has it now (what the next cast carries)."""
        return copy.deepcopy(self.conductor.instances[uuid])

    def set_task(self, uuid: str, task: str | None) -> dict[str, Any]:
        self.conductor.instances[uuid]["task_state"] = task
        return self.current(uuid)

    def events_of(self, uuid: str) -> list[tuple[str, str]]:
        return [(e, r) for u, e, r in self.conductor.events if u == uuid]


async def compute_rig(
    tmp_path: Path,
    uploader: ImageUploader | None = None,
    cfg_overrides: dict[tuple[str, str], Any] | None = None,
    uri: str = TEST_URI,
) -> AsyncIterator[ComputeRig]:
    """Yields a rig on `uri` (test:///default unless given); removes the guests it
    made afterwards."""
    overrides: dict[tuple[str, str], Any] = {
        ("default", "state_dir"): str(tmp_path / "state"),
        ("compute", "virt_uri"): uri,
        ("compute", "shutdown_timeout"): 1.0,
    }
    overrides.update(cfg_overrides or {})
    cfg = config.load(env={}, overrides=overrides)
    instances = tmp_path / "state" / "instances"
    store = tmp_path / "state" / "images"
    store.mkdir(parents=True)
    bus = sbbus.connect("local://", default_timeout=10)
    await bus.start()
    conductor = RecordingConductor()
    await bus.serve("conductor", conductor, host="cond1")
    drv = LibvirtDriver(uri, select.guest_host_config(cfg, uri), instances, 1.0)
    images = ImageCache(instances / "_base", FileImageSource(store))
    up = uploader or ImageUploader("http://127.0.0.1:9/image", _no_token)
    manager = ComputeManager(cfg, bus, drv, HOST, images, up, CLOUD)
    await bus.serve("compute", manager, host=HOST)
    try:
        yield ComputeRig(bus, conductor, manager, drv, store, instances)
    finally:
        await manager.stop()
        await bus.stop()
        # only our own guests: others may share this libvirtd (other tests, benches)
        for g in drv.list_guests():
            try:
                ours = str(instances) in drv.domain_xml(g.uuid)
            except Exception:  # gone meanwhile
                continue
            if ours:
                drv.destroy(g.uuid)
        drv.host.close()


async def _no_token(project_id: str, user_id: str) -> str:
    raise AssertionError("this test uploads nothing")


# The image every workflow test boots from (make_image puts it in the rig's store).
IMG = "11111111-2222-4333-8444-555555555555"


async def active(rig: ComputeRig) -> str:
    """A server booted on the rig and ACTIVE; returns its uuid."""
    inst = rig.add(make_instance(IMG))
    await rig.manager.build_and_run_instance(instance=inst, request_id="req-0")
    assert rig.current(inst["uuid"])["vm_state"] == "active"
    return str(inst["uuid"])
