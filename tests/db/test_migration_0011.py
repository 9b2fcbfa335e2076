"""Migration 0011 gives each resize already under way a migration record whose uuid is
its claim's (`migration:<instance uuid>`), so confirm, revert and delete find and free
that claim as they do for new resizes."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import select

from stackbox.compute import states
from stackbox.compute.models import Allocation, ComputeNode, Flavor, Instance
from stackbox.compute.opmodels import Migration
from stackbox.db import Database, migrate


def _instance(vm_state: str, task_state: str | None, old: dict, new: dict) -> Instance:
    uid = str(uuid.uuid4())
    return Instance(
        uuid=uid, display_name="vm", hostname="vm", project_id="p", user_id="u",
        flavor=new if vm_state == states.RESIZED else old,
        old_flavor=old if vm_state == states.RESIZED else None,
        new_flavor=None if vm_state == states.RESIZED else new,
        vm_state=vm_state, task_state=task_state, host="h1", node="h1",
        reservation_id="r-1",
    )  # fmt: skip


def test_resizes_under_way_get_their_record(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/m.db")
    migrate.upgrade(db.engine, "0010")
    with db.session() as s:
        small = Flavor(flavorid="s", name="s", memory_mb=64, vcpus=1)
        big = Flavor(flavorid="b", name="b", memory_mb=128, vcpus=1)
        node = ComputeNode(uuid=str(uuid.uuid4()), host="h1", hypervisor_hostname="h1",
                           host_ip="192.0.2.7", vcpus=4, memory_mb=4096, local_gb=10)  # fmt: skip
        s.add_all([small, big, node])
        s.flush()
        old, new = {"flavorid": "s"}, {"flavorid": "b"}
        waiting = _instance(states.RESIZED, None, old, new)
        reverting = _instance(states.RESIZED, states.RESIZE_REVERTING, old, new)
        broken = _instance(states.ERROR, None, old, new)
        plain = _instance(states.ACTIVE, None, old, new)
        s.add_all([waiting, reverting, broken, plain])
        s.flush()
        for inst in (waiting, reverting, broken):
            s.add(Allocation(consumer_id=f"migration:{inst.uuid}", compute_node_id=node.id,
                             vcpus=1, memory_mb=64, disk_gb=1))  # fmt: skip
        ids = {"small": small.id, "big": big.id}
        uuids = {"waiting": waiting.uuid, "reverting": reverting.uuid, "broken": broken.uuid}
    migrate.upgrade(db.engine)
    with db.session() as s:
        rows = {m.instance_uuid: m for m in s.scalars(select(Migration))}
        assert set(rows) == set(uuids.values())  # the plain server had no resize
        assert {k: rows[u].status for k, u in uuids.items()} == {
            "waiting": "finished", "reverting": "reverting", "broken": "error"}  # fmt: skip
        m = rows[uuids["waiting"]]
        assert m.uuid == m.instance_uuid  # one id with the claim
        assert (m.old_instance_type_id, m.new_instance_type_id) == (ids["small"], ids["big"])
        assert (m.source_compute, m.dest_node, m.dest_host) == ("h1", "h1", "192.0.2.7")
        assert (m.migration_type, m.user_id, m.project_id) == ("resize", "u", "p")
    db.dispose()
