"""The instance as it travels on the bus: a JSON dict built from the `instances` row
(`instance_payload`), and the typed driver views of it (`instance_spec`). Compute hosts
only ever see this dict, never the row."""

from __future__ import annotations

import datetime as dt
from typing import Any

from stackbox.compute.cloud import CloudRef, domain_name
from stackbox.compute.models import Instance
from stackbox.virt.driver import FlavorSpec, ImageMeta, InstanceSpec

# Instance columns a compute host may change through conductor.instance_update.
UPDATABLE = frozenset(
    {
        "vm_state",
        "task_state",
        "power_state",
        "host",
        "node",
        "launched_at",
        "terminated_at",
        "progress",
        "flavor",
        "old_flavor",
        "new_flavor",
        "image_ref",
        "image_meta",
        "root_device_name",
        "system_metadata",
        "network_info",
        "block_devices",
        "config_drive",
    }
)
DATETIME_COLUMNS = frozenset({"launched_at", "terminated_at"})


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def instance_payload(inst: Instance) -> dict[str, Any]:
    return {
        "uuid": inst.uuid,
        "id": inst.id,
        "name": inst.name,
        "display_name": inst.display_name,
        "hostname": inst.hostname,
        "project_id": inst.project_id,
        "user_id": inst.user_id,
        "image_ref": inst.image_ref,
        "kernel_id": inst.kernel_id,
        "ramdisk_id": inst.ramdisk_id,
        "flavor": inst.flavor,
        "old_flavor": inst.old_flavor,
        "new_flavor": inst.new_flavor,
        "image_meta": inst.image_meta,
        "key_name": inst.key_name,
        "key_data": inst.key_data,
        "user_data": inst.user_data,
        "metadata": inst.meta,
        "vm_state": inst.vm_state,
        "task_state": inst.task_state,
        "power_state": inst.power_state,
        "host": inst.host,
        "node": inst.node,
        "availability_zone": inst.availability_zone,
        "config_drive": inst.config_drive,
        "launch_index": inst.launch_index,
        "reservation_id": inst.reservation_id,
        "root_device_name": inst.root_device_name,
        "network_info": inst.network_info,
        "block_devices": inst.block_devices,
        "system_metadata": inst.system_metadata,
        "created_at": _iso(inst.created_at),
        "launched_at": _iso(inst.launched_at),
        "numa_topology": inst.numa_topology or {},
    }


def parse_values(values: dict[str, Any]) -> dict[str, Any]:
    """Check and convert the values of an instance_update (ISO strings to datetimes)."""
    bad = set(values) - UPDATABLE
    if bad:
        raise ValueError(f"instance columns not updatable over RPC: {sorted(bad)}")
    out = dict(values)
    for key in DATETIME_COLUMNS & set(out):
        if isinstance(out[key], str):
            out[key] = dt.datetime.fromisoformat(out[key]).replace(tzinfo=None)
    return out


def instance_spec(
    payload: dict[str, Any],
    flavor: dict | None = None,
    name_template: str | None = None,
    cloud: CloudRef | None = None,
) -> InstanceSpec:
    """The driver's view of an instance (optionally with another flavor, for resize);
    the domain is named by `name_template` (and the cloud: `cloud.domain_name`) when
    given, and marked as `cloud`'s."""
    name = payload["name"]
    if name_template is not None and payload.get("id") is not None:
        name = domain_name(name_template, int(payload["id"]), cloud)
    return InstanceSpec(
        uuid=payload["uuid"],
        name=name,
        display_name=payload["display_name"],
        project_id=payload["project_id"],
        user_id=payload["user_id"],
        flavor=FlavorSpec.from_dict(flavor or payload["flavor"]),
        image=ImageMeta.from_dict(payload.get("image_meta") or {"id": payload.get("image_ref")}),
        created_at=dt.datetime.fromisoformat(payload["created_at"]),
        numa_topology=dict(payload.get("numa_topology") or {}),
        cloud_id=cloud.cloud_id if cloud is not None else None,
    )
