"""The database writes compute hosts ask the conductor for (they hold no DB credentials):
instance updates guarded by the expected task state, instance-action events, faults,
the end of a delete, and compute-node reports. Plain functions over a Session; the
conductor manager runs them in worker threads.

Errors are raised as exceptions whose class names the bus carries to the caller
(`RemoteError.exc_type`): InstanceNotFound, UnexpectedTaskState."""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from stackbox.compute import migrations, payload, requestspec, states
from stackbox.compute.models import (
    ComputeNode,
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
)
from stackbox.compute.opmodels import PciDevice, ServerGroupMember
from stackbox.db.base import utcnow
from stackbox.scheduler import claims

FAULT_MESSAGE_MAX = 255


class InstanceNotFound(Exception):
    def __init__(self, instance_uuid: str) -> None:
        super().__init__(f"Instance {instance_uuid} could not be found.")


class UnexpectedTaskState(Exception):
    def __init__(self, instance_uuid: str, actual: str | None, expected: list) -> None:
        self.actual = actual
        super().__init__(
            f"Unexpected task state of instance {instance_uuid}: expecting {expected} "
            f"but the actual state is {actual}"
        )


def load(s: Session, instance_uuid: str) -> Instance:
    inst = s.scalar(
        select(Instance).where(Instance.uuid == instance_uuid, Instance.deleted.is_(False))
    )
    if inst is None:
        raise InstanceNotFound(instance_uuid)
    return inst


def instance_update(
    s: Session,
    instance_uuid: str,
    values: dict[str, Any],
    expected_task_state: list[str | None] | None = None,
) -> dict[str, Any]:
    """Apply `values` to the live instance; with `expected_task_state`, only when the
    row's task_state is one of them (checked and written in one UPDATE)."""
    parsed = payload.parse_values(values)
    parsed["updated_at"] = utcnow()
    stmt = update(Instance).where(Instance.uuid == instance_uuid, Instance.deleted.is_(False))
    if expected_task_state is not None:
        named = [t for t in expected_task_state if t is not None]
        cond: Any = Instance.task_state.in_(named)
        if None in expected_task_state:
            cond = cond | Instance.task_state.is_(None)
        stmt = stmt.where(cond)
    if s.execute(stmt.values(**parsed)).rowcount == 0:  # type: ignore[attr-defined]
        inst = load(s, instance_uuid)  # raises InstanceNotFound when gone
        raise UnexpectedTaskState(instance_uuid, inst.task_state, expected_task_state or [])
    s.expire_all()
    return payload.instance_payload(load(s, instance_uuid))


def _action(s: Session, instance_uuid: str, request_id: str) -> InstanceAction:
    action = s.scalar(
        select(InstanceAction)
        .where(
            InstanceAction.instance_uuid == instance_uuid,
            InstanceAction.request_id == request_id,
        )
        .order_by(InstanceAction.id.desc())
        .limit(1)
    )
    if action is None:  # work nobody asked for through the API (e.g. recovery)
        inst = s.scalar(select(Instance).where(Instance.uuid == instance_uuid))
        action = InstanceAction(
            action="system",
            instance_uuid=instance_uuid,
            request_id=request_id,
            user_id=inst.user_id if inst else None,
            project_id=inst.project_id if inst else None,
        )
        s.add(action)
        s.flush()
    return action


def action_event_start(
    s: Session, instance_uuid: str, request_id: str, event: str, host: str
) -> None:
    action = _action(s, instance_uuid, request_id)
    now = utcnow()
    s.add(InstanceActionEvent(action_id=action.id, event=event, start_time=now, host=host))
    action.updated_at = now


def action_event_finish(
    s: Session,
    instance_uuid: str,
    request_id: str,
    event: str,
    result: str,
    traceback: str | None = None,
) -> None:
    if result not in ("Success", "Error"):
        raise ValueError(f"event result must be Success or Error, not {result!r}")
    action = _action(s, instance_uuid, request_id)
    ev = s.scalar(
        select(InstanceActionEvent)
        .where(
            InstanceActionEvent.action_id == action.id,
            InstanceActionEvent.event == event,
            InstanceActionEvent.finish_time.is_(None),
        )
        .order_by(InstanceActionEvent.id.desc())
        .limit(1)
    )
    now = utcnow()
    if ev is None:
        ev = InstanceActionEvent(action_id=action.id, event=event, start_time=now)
        s.add(ev)
    ev.finish_time, ev.result, ev.traceback = now, result, traceback
    action.updated_at = now
    if result == "Error":
        action.message = "Error"


def fault_create(
    s: Session, instance_uuid: str, code: int, message: str, details: str, host: str | None
) -> None:
    s.add(
        InstanceFault(
            instance_uuid=instance_uuid,
            code=code,
            message=message[:FAULT_MESSAGE_MAX],
            details=details,
            host=host,
        )
    )


def set_error(
    s: Session, instance_uuid: str, message: str, details: str = "", host: str | None = None
) -> None:
    """ERROR with a fault, task cleared (what a failed build or a crash leaves)."""
    s.execute(
        update(Instance)
        .where(Instance.uuid == instance_uuid, Instance.deleted.is_(False))
        .values(vm_state=states.ERROR, task_state=None, updated_at=utcnow())
    )
    fault_create(s, instance_uuid, 500, message, details, host)


def instance_destroyed(s: Session, instance_uuid: str) -> None:
    """The guest and its files are gone: soft-delete the row (as Nova: the API still
    shows it to admins asking for deleted servers) and free its claims."""
    now = utcnow()
    s.execute(
        update(Instance)
        .where(Instance.uuid == instance_uuid, Instance.deleted.is_(False))
        .values(
            deleted=True,
            vm_state=states.DELETED,
            task_state=None,
            power_state=states.NOSTATE,
            deleted_at=now,
            terminated_at=now,
            updated_at=now,
        )
    )
    claims.release(s, instance_uuid)
    migrations.forget(s, instance_uuid)  # and the claims of its moves
    _leave_server_group(s, instance_uuid)
    requestspec.destroy(s, instance_uuid)


def _leave_server_group(s: Session, instance_uuid: str) -> None:
    """A destroyed server is no longer a member of its server group."""
    s.execute(delete(ServerGroupMember).where(ServerGroupMember.instance_uuid == instance_uuid))


def compute_node_update(s: Session, host: str, resources: dict[str, Any]) -> None:
    """Upsert the host's compute node from its report, then recompute its used
    amounts from the allocations (heals any drift a crash left)."""
    columns = {
        "hypervisor_hostname",
        "hypervisor_type",
        "hypervisor_version",
        "host_ip",
        "cpu_info",
        "supported_instances",
        "vcpus",
        "memory_mb",
        "local_gb",
        "free_disk_gb",
        "running_vms",
        "cpu_allocation_ratio",
        "ram_allocation_ratio",
        "disk_allocation_ratio",
        "reserved_host_memory_mb",
        "reserved_host_disk_mb",
        "reserved_host_cpus",
        "availability_zone",
        "numa_topology",
    }
    values = {k: v for k, v in resources.items() if k in columns}
    if "supported_instances" in values:
        values["supported_instances"] = [list(x) for x in values["supported_instances"]]
    node = s.scalar(select(ComputeNode).where(ComputeNode.host == host))
    if node is None:
        node = ComputeNode(uuid=str(uuidlib.uuid4()), host=host, **values)
        node.hypervisor_hostname = values.get("hypervisor_hostname") or host
        s.add(node)
        s.flush()
    else:
        for key, value in values.items():
            setattr(node, key, value)
        node.updated_at = utcnow()
        s.flush()
    if "pci_devices" in resources:
        pci_devices_update(s, node.id, resources["pci_devices"] or [])
    claims.heal(s, node.id)


def pci_devices_update(s: Session, node_id: int, devices: list[dict[str, Any]]) -> None:
    """Make the node's pci_devices rows match its report: new devices are added as
    available, known ones refreshed, vanished available ones removed (an allocated
    device stays until its instance lets it go)."""
    rows = {d.address: d for d in s.scalars(
        select(PciDevice).where(PciDevice.compute_node_id == node_id))}  # fmt: skip
    seen = set()
    for dev in devices:
        seen.add(dev["address"])
        fields = {k: dev.get(k) for k in ("vendor_id", "product_id", "numa_node", "label")}
        fields["dev_type"] = dev.get("dev_type") or "type-PCI"
        row = rows.get(dev["address"])
        if row is None:
            s.add(PciDevice(compute_node_id=node_id, address=dev["address"], **fields))
        else:
            for key, value in fields.items():
                setattr(row, key, value)
    gone = [a for a, r in rows.items() if a not in seen and r.status == "available"]
    if gone:
        s.execute(delete(PciDevice).where(PciDevice.compute_node_id == node_id,
                                          PciDevice.address.in_(gone)))  # fmt: skip
    s.flush()


def instances_payload(s: Session, instance_uuid: str) -> dict[str, Any]:
    """The live instance's payload (InstanceNotFound when it is gone)."""
    return payload.instance_payload(load(s, instance_uuid))


def instances_for_host(s: Session, host: str) -> list[dict[str, Any]]:
    rows = s.scalars(
        select(Instance).where(Instance.host == host, Instance.deleted.is_(False))
    ).all()
    return [payload.instance_payload(i) for i in rows]


def claim_queued_deletes(s: Session, host: str, older_than: float) -> list[dict[str, Any]]:
    """The host's SOFT_DELETED instances (no task) deleted over `older_than` seconds ago,
    moved to task_state deleting in one conditional UPDATE each, so a restore racing
    with the reclaim either wins before it or finds the task set (409). Returns the
    payloads of the ones claimed."""
    cutoff = utcnow() - dt.timedelta(seconds=older_than)
    base = (
        Instance.host == host,
        Instance.deleted.is_(False),
        Instance.vm_state == states.SOFT_DELETED,
        Instance.task_state.is_(None),
    )
    due = (Instance.deleted_at.is_(None)) | (Instance.deleted_at <= cutoff)
    uuids = s.scalars(select(Instance.uuid).where(*base, due)).all()
    claimed = []
    for uuid in uuids:
        stmt = update(Instance).where(Instance.uuid == uuid, *base)
        result = s.execute(stmt.values(task_state=states.DELETING, updated_at=utcnow()))
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(uuid)
    s.expire_all()
    return [payload.instance_payload(load(s, uuid)) for uuid in claimed]
