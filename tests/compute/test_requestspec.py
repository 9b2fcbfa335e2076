"""stackbox/compute/requestspec.py over a real database: what is stored, what a move
gets, what an instance older than request_specs gets, and that the spec outlives the
process that wrote it."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from sqlalchemy import select

from stackbox.compute import actions, requestspec
from stackbox.compute.models import Instance
from stackbox.compute.opmodels import RequestSpecRow, ServerGroup, ServerGroupMember
from stackbox.db import Database

FLAVOR = {"flavorid": "f1", "name": "m1", "vcpus": 1, "memory_mb": 64, "root_gb": 1,
          "ephemeral_gb": 0, "swap": 0, "extra_specs": {"hw:cpu_policy": "dedicated"},
          "rxtx_factor": 1.0, "description": None}  # fmt: skip
IMAGE = {"id": "img-1", "min_ram": 0, "properties": {"hw_numa_nodes": "1"}}


def _instance(s: Any, host: str | None = "h1", **kw: Any) -> Instance:
    uid = str(uuidlib.uuid4())
    values: dict[str, Any] = {
        "uuid": uid, "display_name": "vm", "hostname": "vm", "project_id": "p1",
        "user_id": "u1", "flavor": dict(FLAVOR), "image_meta": dict(IMAGE),
        "vm_state": "active", "power_state": 1, "host": host, "node": host,
        "reservation_id": "r-1", "availability_zone": "az-host",
    }  # fmt: skip
    values.update(kw)
    inst = Instance(**values)
    s.add(inst)
    s.flush()
    return inst


def _group(s: Any, policy: str, *members: Instance) -> ServerGroup:
    g = ServerGroup(uuid=str(uuidlib.uuid4()), name="g", policy=policy, rules={},
                    project_id="p1", user_id="u1")  # fmt: skip
    s.add(g)
    s.flush()
    for m in members:
        s.add(ServerGroupMember(group_id=g.id, instance_uuid=m.uuid))
    s.flush()
    return g


def _create_spec(s: Any, inst: Instance, group: ServerGroup | None, **kw: Any) -> dict:
    spec = requestspec.build(
        flavor=FLAVOR, image=IMAGE, availability_zone=kw.get("zone"),
        force_host=kw.get("force_host"), project_id="p1", user_id="u1",
        scheduler_hints={"group": group.uuid} if group else {}, num_instances=1,
        group=requestspec.group_info(s, group) if group else None,
    )  # fmt: skip
    requestspec.create(s, [inst.uuid], spec)
    return spec


def test_stored_at_create_and_read_after_a_restart(database_url: str) -> None:
    db = Database(database_url)
    with db.session() as s:
        a, b = _instance(s, host="h1"), _instance(s, host=None)
        g = _group(s, "anti-affinity", a, b)
        spec = _create_spec(s, b, g, zone="az1", force_host="h9")
        assert spec["group"]["hosts"] == ["h1"]  # the scheduler's view of the others
        uid = b.uuid
    db.dispose()
    again = Database(database_url)  # a new process, as far as the spec can tell
    with again.session() as s:
        stored = s.scalar(select(RequestSpecRow.spec).where(RequestSpecRow.instance_uuid == uid))
        assert stored is not None
        assert stored["instance_uuid"] == uid and stored["availability_zone"] == "az1"
        assert stored["flavor"]["extra_specs"] == {"hw:cpu_policy": "dedicated"}
        assert "rxtx_factor" not in stored["flavor"]  # only what scheduling reads
        assert stored["image"]["properties"] == {"hw_numa_nodes": "1"}
        assert stored["group"] == {"uuid": g.uuid, "policy": "anti-affinity", "rules": {},
                                   "members": [a.uuid, uid]}  # fmt: skip
        inst = s.scalar(select(Instance).where(Instance.uuid == uid))
        assert inst is not None
        assert requestspec.load(s, inst)["force_host"] == "h9"
    again.dispose()


def test_for_move_reads_the_group_fresh_and_stores_nothing(database_url: str) -> None:
    db = Database(database_url)
    with db.session() as s:
        a, b = _instance(s, host="h1"), _instance(s, host="h2")
        g = _group(s, "affinity", a, b)
        _create_spec(s, b, g, force_host="h2")
        c = _instance(s, host="h3")  # joins later (an operator's fix-up)
        s.add(ServerGroupMember(group_id=g.id, instance_uuid=c.uuid))
        s.flush()
        new = dict(FLAVOR, flavorid="f2", memory_mb=128)
        spec = requestspec.for_move(s, b, flavor=new, ignore_hosts=["h2", "h2"])
        assert spec["force_host"] is None and spec["ignore_hosts"] == ["h2"]
        assert spec["flavor"]["memory_mb"] == 128
        assert sorted(spec["group"]["hosts"]) == ["h1", "h3"]  # not b's own host
        assert spec["group"]["members"] == [a.uuid, b.uuid, c.uuid]
        assert requestspec.load(s, b)["flavor"]["flavorid"] == "f1"  # stored: unchanged
        s.delete(g)
        s.flush()
        assert "group" not in requestspec.for_move(s, b)  # a deleted group binds nobody
    db.dispose()


def test_an_instance_older_than_request_specs_gets_one_from_its_row(database_url: str) -> None:
    db = Database(database_url)
    with db.session() as s:
        a = _instance(s, host="h1")
        old = _instance(s, host=None, system_metadata={
            "scheduler_hints": {"k": "v"}, "pinned_availability_zone": None,
            "force_host": "h7"})  # fmt: skip
        g = _group(s, "anti-affinity", a, old)
        spec = requestspec.for_move(s, old)
        assert spec["group"]["uuid"] == g.uuid and spec["group"]["hosts"] == ["h1"]
        assert spec["availability_zone"] is None  # the create pinned none
        assert spec["scheduler_hints"] == {"k": "v"} and spec["force_host"] is None
        stored = requestspec.load(s, old)  # built once, now stored
        assert stored["force_host"] == "h7" and stored["flavor"]["flavorid"] == "f1"
        row = s.scalar(select(RequestSpecRow).where(RequestSpecRow.instance_uuid == old.uuid))
        assert row is not None and "hosts" not in row.spec["group"]
        # without the pinned-zone key (the oldest rows) the instance's zone stands
        older = _instance(s, host=None, system_metadata={})
        assert requestspec.load(s, older)["availability_zone"] == "az-host"
    db.dispose()


def test_update_and_delete(database_url: str) -> None:
    db = Database(database_url)
    with db.session() as s:
        inst = _instance(s)
        _create_spec(s, inst, None, zone="az1")
        requestspec.update(s, inst, availability_zone="az2")
        assert requestspec.load(s, inst)["availability_zone"] == "az2"
        actions.mark_deleted(s, inst)
        gone = select(RequestSpecRow).where(RequestSpecRow.instance_uuid == inst.uuid)
        assert s.scalar(gone) is None
    db.dispose()
