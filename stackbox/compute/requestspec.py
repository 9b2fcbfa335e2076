"""An instance's scheduling request (Nova's RequestSpec): built ONCE, at server create
(`build`), stored in `request_specs` (one row per instance, a JSON dict), and read back
by every later scheduling of the instance: unshelve of an offloaded server, resize, and
the moves (migrate, evacuate) through `for_move`. Nothing else rebuilds it.

The dict, as stored and as SchedulerAPI.select_destinations takes it:

    instance_uuid      the instance (absent in the one spec a multi-create casts)
    project_id, user_id
    num_instances      how many servers the create asked for (its max_count)
    flavor             the scheduling part of the flavor copy (FLAVOR_KEYS); resize
                       moves with a copy holding the new flavor, stored on confirm
    image              the image meta copy (its `properties` carry hw_* and the rest)
    availability_zone  the zone asked for at create (None: any); unshelve to a zone
                       changes it
    force_host         "host", "host:node" or ":node" an admin forced at create; only
                       create honours it (`for_move` clears it)
    ignore_hosts       hosts this scheduling must not use
    scheduler_hints    as given at create
    group              {"uuid", "policy", "rules", "members"} of the instance's server
                       group, or absent; "hosts" (one entry per other member with a
                       host) is filled in fresh for each scheduling and never stored

The NUMA and PCI requests are not stored apart: they are the flavor's extra specs and
the image's properties, which the scheduler parses (filters_numa.numa_request,
filters_pci.pci_request), so one parser decides. Requested networks will join when
networking does.

Instances created before request_specs existed (migration 0007) have no row: `load`
builds one from the instance row (flavor, image, zone, system_metadata's hints and
forced host, group membership) the first time something schedules the instance again,
and stores it. Not here: the scheduling itself (stackbox/scheduler), the API checks."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from stackbox.compute.models import Instance
from stackbox.compute.opmodels import RequestSpecRow, ServerGroup, ServerGroupMember

FLAVOR_KEYS = ("flavorid", "name", "vcpus", "memory_mb", "root_gb", "ephemeral_gb", "swap",
               "extra_specs")  # fmt: skip


def flavor_fields(flavor: dict[str, Any]) -> dict[str, Any]:
    """What scheduling needs of a flavor copy."""
    return {k: copy.deepcopy(flavor.get(k)) for k in FLAVOR_KEYS if k in flavor}


def build(
    *,
    flavor: dict[str, Any],
    image: dict[str, Any],
    availability_zone: str | None,
    force_host: str | None,
    project_id: str | None,
    user_id: str | None,
    scheduler_hints: dict[str, Any],
    num_instances: int,
    group: dict[str, Any] | None,
) -> dict[str, Any]:
    """THE request spec of a server create (pure). `group` is `group_info`'s answer."""
    spec: dict[str, Any] = {
        "project_id": project_id,
        "user_id": user_id,
        "num_instances": num_instances,
        "flavor": flavor_fields(flavor),
        "image": copy.deepcopy(image),
        "availability_zone": availability_zone,
        "force_host": force_host,
        "ignore_hosts": [],
        "scheduler_hints": copy.deepcopy(scheduler_hints),
    }
    if group is not None:
        spec["group"] = group
    return spec


def group_info(s: Session, group: ServerGroup, exclude: str | None = None) -> dict[str, Any]:
    """The group as a spec holds it, with its current members and "hosts": one entry
    per member (but `exclude`) that has a host, repeated when members share a host."""
    members = list(s.scalars(select(ServerGroupMember.instance_uuid).where(
        ServerGroupMember.group_id == group.id).order_by(ServerGroupMember.id)))  # fmt: skip
    others = [m for m in members if m != exclude]
    hosts = s.scalars(
        select(Instance.host).where(
            Instance.uuid.in_(others), Instance.deleted.is_(False), Instance.host.is_not(None)
        )
    ).all()
    return {"uuid": group.uuid, "policy": group.policy, "rules": dict(group.rules or {}),
            "members": members, "hosts": list(hosts)}  # fmt: skip


def create(s: Session, instance_uuids: Iterable[str], spec: dict[str, Any]) -> None:
    """Store `spec` (a create's) as the request of each new instance."""
    for uuid in instance_uuids:
        s.add(RequestSpecRow(instance_uuid=uuid, spec=_storable({**spec, "instance_uuid": uuid})))
    s.flush()


def load(s: Session, inst: Instance) -> dict[str, Any]:
    """The stored request of `inst` (a copy to change freely); for an instance older
    than request_specs, built from its row and stored first."""
    row = s.scalar(select(RequestSpecRow).where(RequestSpecRow.instance_uuid == inst.uuid))
    if row is None:
        spec = _from_instance(s, inst)
        s.add(RequestSpecRow(instance_uuid=inst.uuid, spec=_storable(spec)))
        s.flush()
        return spec
    return copy.deepcopy(dict(row.spec))


def save(s: Session, instance_uuid: str, spec: dict[str, Any]) -> None:
    """Replace the stored request of an instance (which must have one: `load` first)."""
    row = s.scalar(select(RequestSpecRow).where(RequestSpecRow.instance_uuid == instance_uuid))
    if row is None:
        raise LookupError(f"instance {instance_uuid} has no request spec")
    row.spec = _storable(spec)
    s.flush()


def update(s: Session, inst: Instance, **values: Any) -> dict[str, Any]:
    """Change some keys of the stored request (unshelve to a zone, a confirmed
    resize's flavor); returns the new spec."""
    spec = load(s, inst)
    spec.update(copy.deepcopy(values))
    save(s, inst.uuid, spec)
    return spec


def destroy(s: Session, instance_uuid: str) -> None:
    """A deleted server is never scheduled again."""
    s.execute(delete(RequestSpecRow).where(RequestSpecRow.instance_uuid == instance_uuid))


def for_move(
    s: Session,
    inst: Instance,
    *,
    flavor: dict[str, Any] | None = None,
    ignore_hosts: Iterable[str] = (),
) -> dict[str, Any]:
    """The request to schedule `inst` again (unshelve, resize, migrate, evacuate): its
    stored spec without the create's forced host, with `ignore_hosts`, the new flavor
    of a resize (not stored: a confirmed resize stores it), and its group's members
    and where the other members are now. Stores nothing."""
    spec = load(s, inst)
    spec["instance_uuid"] = inst.uuid
    spec["num_instances"] = 1
    spec["force_host"] = None
    spec["ignore_hosts"] = sorted(set(ignore_hosts))
    if flavor is not None:
        spec["flavor"] = flavor_fields(flavor)
    stored = spec.pop("group", None)
    if stored:
        group = s.scalar(select(ServerGroup).where(ServerGroup.uuid == stored["uuid"]))
        if group is not None:  # a deleted group binds nobody
            spec["group"] = group_info(s, group, exclude=inst.uuid)
    return spec


def _group_of(s: Session, instance_uuid: str) -> ServerGroup | None:
    """The server group the instance is a member of (None: none)."""
    member = ServerGroupMember
    q = select(ServerGroup).join(member, member.group_id == ServerGroup.id)
    return s.scalar(q.where(member.instance_uuid == instance_uuid))


def _from_instance(s: Session, inst: Instance) -> dict[str, Any]:
    """The request of an instance created before request_specs: what its row kept of
    the create (Nova builds these from the instance likewise). The zone is the one the
    create pinned when the row says so, else the instance's."""
    sysmeta = inst.system_metadata or {}
    zone = sysmeta.get("pinned_availability_zone", inst.availability_zone)
    group = _group_of(s, inst.uuid)
    spec = build(
        flavor=inst.flavor or {},
        image=inst.image_meta or {},
        availability_zone=zone,
        force_host=sysmeta.get("force_host"),
        project_id=inst.project_id,
        user_id=inst.user_id,
        scheduler_hints=dict(sysmeta.get("scheduler_hints") or {}),
        num_instances=1,
        group=None if group is None else group_info(s, group),
    )
    spec["instance_uuid"] = inst.uuid
    return spec


def _storable(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec as stored: a copy without the group's "hosts" (stale at once)."""
    out = copy.deepcopy(spec)
    if out.get("group"):
        out["group"].pop("hosts", None)
    return out
