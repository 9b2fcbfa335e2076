"""Migration records on a whole in-process cloud (tests/conductor/stack.py): a resize's
record goes through Nova's statuses as the API, the conductor and the compute host
move it, its uuid is the source claim's consumer, a failure or a restart leaves it in
error, and a deleted server takes its records and their claims along."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from stackbox.compute import recovery
from stackbox.compute.models import Allocation, ComputeNode, Flavor
from stackbox.compute.opmodels import Migration
from tests.conductor.stack import Stack, make_stack
from tests.conftest import pg_schema_url


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    url = None
    if request.param == "postgres":
        url = pg_schema_url(request.getfixturevalue("pg_url"))
    for st in make_stack(url):
        with st.state.db.session() as s:
            s.add(Flavor(flavorid="rs-eph", name="rs.eph", memory_mb=64, vcpus=1, root_gb=1,
                         ephemeral_gb=1))  # fmt: skip
            s.add(Flavor(flavorid="rs-huge", name="rs.huge", memory_mb=1 << 20, vcpus=1,
                         root_gb=1))  # fmt: skip
        yield st


def _migrations(stack: Stack, sid: str) -> list[Migration]:
    with stack.state.db.session() as s:
        rows = list(s.scalars(select(Migration).where(Migration.instance_uuid == sid)
                              .order_by(Migration.id)))  # fmt: skip
        s.expunge_all()
        return rows


def _settled(stack: Stack, sid: str, *statuses: str) -> list[Migration]:
    """The server's records once their statuses are `statuses` (the host reports its
    last step after the server's own state)."""
    end = time.monotonic() + 30
    while [m.status for m in _migrations(stack, sid)] != list(statuses):
        assert time.monotonic() < end, [m.status for m in _migrations(stack, sid)]
        time.sleep(0.05)
    return _migrations(stack, sid)


def _consumers(stack: Stack, sid: str) -> dict[str, int]:
    """consumer -> memory held, for the server and its migrations."""
    wanted = [sid] + [f"migration:{m.uuid}" for m in _migrations(stack, sid)]
    with stack.state.db.session() as s:
        rows = s.execute(select(Allocation.consumer_id, Allocation.memory_mb)
                         .where(Allocation.consumer_id.in_(wanted))).all()  # fmt: skip
        return {c: m for c, m in rows}


def _listed(stack: Stack, sid: str, version: str = "2.80") -> list[dict[str, Any]]:
    headers = {**stack.admin, "OpenStack-API-Version": f"compute {version}"}
    r = stack.client.get("/compute/v2.1/os-migrations", params={"instance_uuid": sid},
                         headers=headers)  # fmt: skip
    assert r.status_code == 200, r.text
    return list(r.json()["migrations"])


def test_resize_and_confirm(stack: Stack) -> None:
    sid = stack.boot()
    before = stack.server(sid)
    stack.act(sid, {"resize": {"flavorRef": "rs-medium"}})
    stack.wait(sid, "VERIFY_RESIZE")
    (mig,) = _settled(stack, sid, "finished")
    host = before["OS-EXT-SRV-ATTR:host"]
    assert (mig.status, mig.migration_type) == ("finished", "resize")
    assert (mig.source_compute, mig.dest_compute, mig.dest_node) == (host, host, host)
    with stack.state.db.session() as s:
        ip = s.scalar(select(ComputeNode.host_ip).where(ComputeNode.host == host))
        ids = dict(s.execute(select(Flavor.flavorid, Flavor.id)).all())
    assert mig.dest_host == ip
    assert (mig.old_instance_type_id, mig.new_instance_type_id) == (ids["rs-small"],
                                                                    ids["rs-medium"])  # fmt: skip
    # one id: the source side's claim is the record's
    assert _consumers(stack, sid) == {sid: 96, f"migration:{mig.uuid}": 64}
    (view,) = _listed(stack, sid)
    assert (view["uuid"], view["status"], view["user_id"]) == (mig.uuid, "finished", mig.user_id)
    assert stack.api("GET", f"/servers/{sid}/migrations", stack.admin).json() == {"migrations": []}
    stack.act(sid, {"confirmResize": None})
    after = stack.wait(sid, "ACTIVE")
    _settled(stack, sid, "confirmed")
    assert _consumers(stack, sid) == {sid: 96}
    keys = ("OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:hypervisor_hostname",
            "OS-EXT-SRV-ATTR:instance_name")  # fmt: skip
    assert [after[k] for k in keys] == [before[k] for k in keys]


def test_revert_then_resize_again(stack: Stack) -> None:
    sid = stack.boot()
    stack.act(sid, {"resize": {"flavorRef": "rs-medium"}})
    stack.wait(sid, "VERIFY_RESIZE")
    stack.act(sid, {"revertResize": None})
    stack.wait(sid, "ACTIVE")
    _settled(stack, sid, "reverted")
    assert _consumers(stack, sid) == {sid: 64}
    stack.act(sid, {"resize": {"flavorRef": "rs-large"}})
    stack.wait(sid, "VERIFY_RESIZE")
    first, second = _settled(stack, sid, "reverted", "finished")
    assert first.uuid != second.uuid
    assert _consumers(stack, sid) == {sid: 128, f"migration:{second.uuid}": 64}
    # deleting a server in VERIFY_RESIZE frees both sides and hides its records
    r = stack.api("DELETE", f"/servers/{sid}", stack.admin)
    assert r.status_code == 204
    _wait_deleted(stack, sid)
    assert _consumers(stack, sid) == {}
    assert all(m.deleted for m in _migrations(stack, sid))
    assert _listed(stack, sid) == []


def _wait_deleted(stack: Stack, sid: str) -> None:
    end = time.monotonic() + 30
    while stack.api("GET", f"/servers/{sid}", stack.admin).status_code != 404:
        assert time.monotonic() < end
        time.sleep(0.05)


def test_no_host_or_a_failed_resize_is_error(stack: Stack) -> None:
    sid = stack.boot()
    stack.act(sid, {"resize": {"flavorRef": "rs-huge"}})  # no host holds it
    stack.wait(sid, "ACTIVE")
    _settled(stack, sid, "error")
    assert _consumers(stack, sid) == {sid: 64}  # the claim came back to the server
    eph = stack.boot(flavor="eph")
    stack.act(eph, {"resize": {"flavorRef": "rs-medium"}})  # would drop the ephemeral disk
    stack.wait(eph, "ERROR")
    _settled(stack, eph, "error")
    assert [v["status"] for v in _listed(stack, eph, "2.1")] == ["error"]


def test_restart_errors_a_migration_left_mid_step(stack: Stack) -> None:
    sid = stack.boot()
    stack.act(sid, {"resize": {"flavorRef": "rs-medium"}})
    stack.wait(sid, "VERIFY_RESIZE")
    with stack.state.db.session() as s:  # as if the host died during the confirm
        s.execute(Migration.__table__.update().where(Migration.instance_uuid == sid)
                  .values(status="confirming"))  # fmt: skip
    host = stack.host_of(sid)
    assert host is not None
    portal = stack.client.portal
    assert portal is not None
    portal.call(recovery.init_host, stack.computes[host].ctx)
    (mig,) = _migrations(stack, sid)
    assert mig.status == "error"
    # the server can still be confirmed: the claim the record held is freed
    stack.act(sid, {"confirmResize": None})
    stack.wait(sid, "ACTIVE")
    _settled(stack, sid, "error")
    end = time.monotonic() + 30
    while _consumers(stack, sid) != {sid: 96}:
        assert time.monotonic() < end, _consumers(stack, sid)
        time.sleep(0.05)
