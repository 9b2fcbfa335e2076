"""Deferred delete: with compute.reclaim_instance_interval > 0 a DELETE leaves the server
SOFT_DELETED (its host powers it off; out of the server list, still shown by id), and
restore / forceDelete act on it, with Nova's state checks, quota re-check and policy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from stackbox.compute import states
from stackbox.compute.models import Instance
from stackbox.db.base import utcnow
from tests.compute.api.actions_helpers import (
    API,
    Bus,
    Who,
    act,
    bus_fixture,  # noqa: F401  (the `bus` fixture)
    error,
    instance,
    make_instance,
)
from tests.compute.api.conftest import Cloud


@pytest.fixture
def deferred(cloud: Cloud) -> Iterator[None]:
    cfg = cloud.state.cfg  # type: ignore[attr-defined]
    cfg.set("compute", "reclaim_instance_interval", 3600)
    try:
        yield
    finally:
        cfg.set("compute", "reclaim_instance_interval", 0)


def launched(cloud: Cloud, who: Who, **kw: object) -> str:
    return make_instance(cloud, who, **{"launched_at": utcnow(), **kw})


def soft_deleted(cloud: Cloud, who: Who, **kw: object) -> str:
    return launched(cloud, who, **{"vm_state": states.SOFT_DELETED, "deleted_at": utcnow(), **kw})


def host_reports(cloud: Cloud, uid: str, **values: object) -> None:
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        s.execute(update(Instance).where(Instance.uuid == uid).values(**values))


def delete(cloud: Cloud, who: Who, uid: str) -> int:
    return int(cloud.client.delete(f"{API}/servers/{uid}", headers=who.headers).status_code)


def listed(cloud: Cloud, who: Who, query: str = "") -> set[str]:
    r = cloud.client.get(f"{API}/servers{query}", headers=who.headers)
    assert r.status_code == 200, r.text
    return {s["id"] for s in r.json()["servers"]}


def test_delete_soft_deletes_a_launched_server(
    cloud: Cloud, bus: Bus, me: Who, boss: Who, deferred: None
) -> None:
    uid = launched(cloud, me)
    assert delete(cloud, me, uid) == 204
    inst = instance(cloud, uid)
    assert (inst.vm_state, inst.task_state, inst.deleted) == (
        states.ACTIVE,
        states.SOFT_DELETING,
        False,
    )
    assert inst.deleted_at is not None
    assert bus.compute.wait("soft_delete_instance", uuid=uid)["request_id"]
    assert not bus.compute.sent("terminate_instance", uuid=uid)
    # The host has powered it off:
    host_reports(cloud, uid, vm_state=states.SOFT_DELETED, task_state=None)
    r = cloud.client.get(f"{API}/servers/{uid}", headers=me.headers)
    assert r.json()["server"]["status"] == "SOFT_DELETED"
    assert uid not in listed(cloud, me)
    assert uid in listed(cloud, boss, f"?deleted=true&all_tenants=1&project_id={me.project_id}")
    # Deleting it again changes nothing and sends nothing.
    assert delete(cloud, me, uid) == 204
    assert instance(cloud, uid).vm_state == states.SOFT_DELETED
    assert not bus.compute.sent("terminate_instance", uuid=uid)


@pytest.mark.parametrize(
    "kw",
    [
        {"launched_at": None},  # never launched
        {"task_state": states.REBOOTING},  # a task runs
        {"vm_state": states.SHELVED},  # not a state a delete waits in
    ],
)
def test_delete_is_immediate_where_nova_does_not_defer(
    cloud: Cloud, bus: Bus, me: Who, deferred: None, kw: dict
) -> None:
    uid = launched(cloud, me, **{"vm_state": states.ACTIVE, **kw})
    assert delete(cloud, me, uid) == 204
    assert instance(cloud, uid).task_state == states.DELETING
    bus.compute.wait("terminate_instance", uuid=uid)
    assert not bus.compute.sent("soft_delete_instance", uuid=uid)


def test_without_an_interval_delete_is_immediate(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = launched(cloud, me)
    assert delete(cloud, me, uid) == 204
    bus.compute.wait("terminate_instance", uuid=uid)
    assert not bus.compute.sent("soft_delete_instance", uuid=uid)


def test_restore_powers_a_soft_deleted_server_back_on(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = soft_deleted(cloud, me)
    r = act(cloud, me.headers, uid, {"restore": None})
    assert r.status_code == 202, r.text
    assert r.content == b""
    inst = instance(cloud, uid)
    assert (inst.vm_state, inst.task_state, inst.deleted_at) == (
        states.SOFT_DELETED,
        states.RESTORING,
        None,
    )
    assert bus.compute.wait("restore_instance", uuid=uid)["request_id"]


def test_restore_of_a_server_not_soft_deleted_is_409(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = launched(cloud, me)
    r = act(cloud, me.headers, uid, {"restore": {}})
    assert r.status_code == 409, r.text
    assert error(r)[2] == f"Cannot 'restore' instance {uid} while it is in vm_state active"
    assert instance(cloud, uid).task_state is None


def test_restore_and_force_delete_of_another_projects_server_are_404(
    cloud: Cloud, bus: Bus, me: Who, boss: Who
) -> None:
    uid = soft_deleted(cloud, boss)
    for action in ("restore", "forceDelete"):
        r = act(cloud, me.headers, uid, {action: None})
        assert r.status_code == 404, r.text
    assert instance(cloud, uid).task_state is None


def test_restore_checks_the_quota_again(cloud: Cloud, bus: Bus, me: Who, boss: Who) -> None:
    uid = soft_deleted(cloud, me)
    url = f"{API}/os-quota-sets/{me.project_id}"
    r = cloud.client.put(
        url, json={"quota_set": {"instances": 0, "force": True}}, headers=boss.headers
    )
    assert r.status_code == 200, r.text
    try:
        r = act(cloud, me.headers, uid, {"restore": None})
    finally:
        cloud.client.delete(url, headers=boss.headers)
    assert r.status_code == 403, r.text
    assert "instances" in error(r)[2]
    assert instance(cloud, uid).vm_state == states.SOFT_DELETED
    assert not bus.compute.sent("restore_instance", uuid=uid)


def test_force_delete_deletes_now(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = soft_deleted(cloud, me)
    r = act(cloud, me.headers, uid, {"forceDelete": None})
    assert r.status_code == 202, r.text
    assert instance(cloud, uid).task_state == states.DELETING
    bus.compute.wait("terminate_instance", uuid=uid)


def test_force_delete_refuses_a_server_with_a_task(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = soft_deleted(cloud, me, task_state=states.RESTORING)
    r = act(cloud, me.headers, uid, {"forceDelete": None})
    assert r.status_code == 409, r.text
    assert instance(cloud, uid).task_state == states.RESTORING


def test_locked_servers_refuse_restore_and_force_delete(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = soft_deleted(cloud, me, locked=True)
    for action in ("restore", "forceDelete"):
        r = act(cloud, me.headers, uid, {action: None})
        assert r.status_code == 409, r.text
        assert error(r)[2] == f"Instance {uid} is locked"


def test_unknown_servers_are_404(cloud: Cloud, bus: Bus, me: Who) -> None:
    for action in ("restore", "forceDelete"):
        r = act(cloud, me.headers, "00000000-0000-4000-8000-000000000000", {action: None})
        assert r.status_code == 404, r.text
