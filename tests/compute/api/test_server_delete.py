"""DELETE /servers/{id}: a placed server is handed to its host (task deleting, one
terminate cast even when deleted twice); a server with no host is finished by the API
(soft-deleted, its allocations released); locks and projects are respected."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from stackbox.compute import states
from stackbox.compute.models import Allocation, ComputeNode
from tests.compute.api.actions_helpers import (
    Bus,
    Who,
    act,
    actions_of,
    bus_fixture,  # noqa: F401  (the `bus` fixture)
    error,
    instance,
    make_instance,
)
from tests.compute.api.conftest import Cloud

API = "/compute/v2.1"


def delete(cloud: Cloud, headers: dict, uid: str) -> Any:
    return cloud.client.delete(f"{API}/servers/{uid}", headers=headers)


def test_delete_on_host_casts_terminate_once(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = make_instance(cloud, me)
    r = delete(cloud, me.headers, uid)
    assert r.status_code == 204, r.text
    assert r.content == b""
    row = instance(cloud, uid)
    assert (row.task_state, row.deleted) == (states.DELETING, False)
    sent = bus.compute.wait("terminate_instance", uuid=uid)
    assert sent["request_id"] == r.headers["x-openstack-request-id"]
    # A repeat is accepted and changes nothing.
    assert delete(cloud, me.headers, uid).status_code == 204
    assert len(bus.compute.sent("terminate_instance", uuid=uid)) == 1
    assert actions_of(cloud, uid) == ["delete"]
    # No other action may start on a server being deleted.
    r = act(cloud, me.headers, uid, {"os-stop": None})
    assert r.status_code == 409
    assert error(r)[2] == f"Cannot 'stop' instance {uid} while it is in task_state deleting"


def test_delete_interrupts_a_running_task(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = make_instance(cloud, me, states.ACTIVE, states.POWERING_OFF)
    assert delete(cloud, me.headers, uid).status_code == 204
    assert instance(cloud, uid).task_state == states.DELETING
    bus.compute.wait("terminate_instance", uuid=uid)


@pytest.mark.parametrize(
    ("vm", "task"),
    [
        (states.BUILDING, states.SCHEDULING),
        (states.ERROR, None),
        (states.SHELVED_OFFLOADED, None),
    ],
)
def test_delete_without_host_finishes_in_the_api(
    cloud: Cloud, bus: Bus, me: Who, vm: str, task: str | None
) -> None:
    uid = make_instance(cloud, me, vm, task, host=None)
    r = delete(cloud, me.headers, uid)
    assert r.status_code == 204, r.text
    row = instance(cloud, uid)
    assert (row.deleted, row.vm_state, row.task_state) == (True, states.DELETED, None)
    assert row.deleted_at is not None and row.terminated_at is not None
    assert bus.compute.sent("terminate_instance", uuid=uid) == []
    assert actions_of(cloud, uid) == ["delete"]
    # Gone for the API now.
    assert delete(cloud, me.headers, uid).status_code == 404
    assert act(cloud, me.headers, uid, {"os-stop": None}).status_code == 404


def test_delete_without_host_releases_allocations(cloud: Cloud, bus: Bus, me: Who) -> None:
    from stackbox.scheduler import claims

    uid = make_instance(cloud, me, states.ERROR, None, host=None)
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        node = ComputeNode(
            uuid=str(uuid.uuid4()),
            host=f"n-{uuid.uuid4().hex[:8]}",
            hypervisor_hostname="n",
            vcpus=8,
            memory_mb=8192,
            local_gb=100,
            reserved_host_memory_mb=0,
        )
        s.add(node)
        s.flush()
        node_id = node.id
        assert claims.claim(s, node_id, uid, 1, 512, 1)
    assert delete(cloud, me.headers, uid).status_code == 204
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        node = s.get(ComputeNode, node_id)
        assert node is not None
        assert (node.vcpus_used, node.memory_mb_used, node.local_gb_used) == (0, 0, 0)
        assert s.scalars(select(Allocation).where(Allocation.consumer_id == uid)).all() == []


def test_delete_on_a_down_host_is_local(cloud: Cloud, bus: Bus, me: Who) -> None:
    from stackbox.service.models import ServiceRecord

    host = f"down-{uuid.uuid4().hex[:8]}"
    long_ago = dt.datetime(2020, 1, 1)
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        s.add(
            ServiceRecord(
                uuid=str(uuid.uuid4()),
                binary="stackbox-compute",
                topic="compute",
                host=host,
                last_seen_up=long_ago,
            )
        )
    uid = make_instance(cloud, me, host=host)
    assert delete(cloud, me.headers, uid).status_code == 204
    row = instance(cloud, uid)
    assert (row.deleted, row.vm_state) == (True, states.DELETED)
    assert bus.compute.sent("terminate_instance", uuid=uid) == []


def test_locked_server_only_admin_deletes(cloud: Cloud, bus: Bus, me: Who, boss: Who) -> None:
    uid = make_instance(cloud, me)
    assert act(cloud, me.headers, uid, {"lock": None}).status_code == 202
    r = delete(cloud, me.headers, uid)
    assert r.status_code == 409
    assert error(r) == ("conflictingRequest", 409, f"Instance {uid} is locked")
    assert instance(cloud, uid).task_state is None
    assert delete(cloud, boss.headers, uid).status_code == 204
    bus.compute.wait("terminate_instance", uuid=uid)


def test_other_projects_server_is_404(cloud: Cloud, bus: Bus, me: Who, boss: Who) -> None:
    uid = make_instance(cloud, boss)
    r = delete(cloud, me.headers, uid)
    assert r.status_code == 404
    assert error(r) == ("itemNotFound", 404, f"Instance {uid} could not be found.")
    assert instance(cloud, uid).task_state is None
    assert delete(cloud, me.headers, str(uuid.uuid4())).status_code == 404
