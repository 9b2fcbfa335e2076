"""GET /os-migrations and /servers/{id}/migrations: the records a resize makes through
the API (pre-migrating, then confirming/reverting), each microversion's exact view,
the policies, filters and 2.59 paging, and the per-server list that only shows live
migrations in progress."""

from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from stackbox.compute import states
from stackbox.compute.opmodels import Migration
from tests.compute.api.actions_helpers import (
    HOST,
    Bus,
    Who,
    act,
    bus_fixture,  # noqa: F401  (the `bus` fixture)
    error,
    flavor_json,
    flavor_row,
    make_instance,
)
from tests.compute.api.conftest import Cloud, call
from tests.compute.api.quota_helpers import new_member

V21 = {
    "id", "status", "instance_uuid", "source_node", "source_compute", "dest_node",
    "dest_compute", "dest_host", "old_instance_type_id", "new_instance_type_id",
    "created_at", "updated_at",
}  # fmt: skip
V223 = V21 | {"migration_type"}
V259 = V223 | {"uuid"}
V280 = V259 | {"user_id", "project_id"}


def _record(cloud: Cloud, inst: str, owner: Who, **kw: Any) -> Migration:
    values: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "source_compute": HOST,
        "dest_compute": HOST,
        "source_node": HOST,
        "dest_node": HOST,
        "dest_host": "192.0.2.1",
        "status": "finished",
        "migration_type": "resize",
        "instance_uuid": inst,
        "user_id": owner.user_id,
        "project_id": owner.project_id,
        **kw,
    }
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        row = Migration(**values)
        s.add(row)
        s.flush()
        s.expunge(row)
        return row


def _list(cloud: Cloud, who: dict, version: str | None = None, **query: Any) -> Any:
    return call(cloud, "GET", "/os-migrations", who, version, params=query)


def _rows(cloud: Cloud, inst: str) -> list[Migration]:
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        rows = s.query(Migration).filter_by(instance_uuid=inst).order_by(Migration.id).all()
        for r in rows:
            s.expunge(r)
        return rows


def test_resize_creates_a_pre_migrating_record(cloud: Cloud, bus: Bus, me: Who) -> None:
    old, new = flavor_row(cloud), flavor_row(cloud, root_gb=2, memory_mb=1024)
    uid = make_instance(cloud, me, flavor=flavor_json(old))
    assert act(cloud, me.headers, uid, {"resize": {"flavorRef": new.flavorid}}).status_code == 202
    (mig,) = _rows(cloud, uid)
    assert (mig.status, mig.migration_type) == ("pre-migrating", "resize")
    assert (mig.old_instance_type_id, mig.new_instance_type_id) == (old.id, new.id)
    assert (mig.source_compute, mig.source_node, mig.dest_compute) == (HOST, HOST, None)
    assert (mig.user_id, mig.project_id) == (me.user_id, me.project_id)
    bus.conductor.wait("resize_instance", instance_uuid=uid)


def test_confirm_and_revert_move_the_finished_record(cloud: Cloud, bus: Bus, me: Who) -> None:
    one, two = (make_instance(cloud, me, states.RESIZED) for _ in range(2))
    _record(cloud, one, me)
    _record(cloud, two, me)
    assert act(cloud, me.headers, one, {"confirmResize": None}).status_code in (202, 204)
    assert act(cloud, me.headers, two, {"revertResize": None}).status_code == 202
    assert [m.status for m in _rows(cloud, one)] == ["confirming"]
    assert [m.status for m in _rows(cloud, two)] == ["reverting"]
    assert _rows(cloud, two)[0].updated_at is not None


@pytest.mark.parametrize(
    ("version", "keys"), [(None, V21), ("2.22", V21), ("2.23", V223), ("2.59", V259),
                          ("2.79", V259), ("2.80", V280), ("latest", V280)]
)  # fmt: skip
def test_view_by_microversion(
    cloud: Cloud, bus: Bus, me: Who, admin: dict, version: str | None, keys: set[str]
) -> None:
    uid = make_instance(cloud, me, states.RESIZED)
    mig = _record(cloud, uid, me, old_instance_type_id=None)
    r = _list(cloud, admin, version, instance_uuid=uid)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"migrations"}
    (view,) = r.json()["migrations"]
    assert set(view) == keys
    assert view["id"] == mig.id and view["status"] == "finished"
    assert view["dest_host"] == "192.0.2.1" and view["old_instance_type_id"] is None
    assert view["created_at"] == mig.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert view["updated_at"] is None
    if "uuid" in keys:
        assert view["uuid"] == mig.uuid and view["migration_type"] == "resize"


def test_only_admins_list_all_projects(cloud: Cloud, bus: Bus, me: Who, admin: dict) -> None:
    r = _list(cloud, me.headers)
    assert r.status_code == 403
    assert error(r)[2] == (
        "Policy doesn't allow os_compute_api:os-migrations:index to be performed."
    )
    boss = new_member(SimpleNamespace(client=cloud.client, admin=admin), "manager")  # type: ignore[arg-type]
    uid = make_instance(cloud, Who(boss.headers, boss.project_id, boss.user_id), states.RESIZED)
    _record(cloud, uid, me, project_id=boss.project_id)
    r = _list(cloud, boss.headers, "2.80")  # every project: admins only
    assert r.status_code == 403 and "index:all_projects" in error(r)[2]
    r = _list(cloud, boss.headers, "2.80", project_id=boss.project_id)
    assert r.status_code == 200, r.text
    (view,) = r.json()["migrations"]
    assert view["instance_uuid"] == uid
    assert view["source_compute"] is None and view["dest_host"] is None  # index:host: admins


def test_filters(cloud: Cloud, bus: Bus, me: Who, admin: dict) -> None:
    uid = make_instance(cloud, me, states.RESIZED)
    a = _record(cloud, uid, me, status="error", source_compute="src-x", dest_compute="dst-x")
    b = _record(cloud, uid, me, status="finished", migration_type="migration")
    _record(cloud, uid, me, hidden=True)

    def ids(version: str | None = None, **q: Any) -> list[int]:
        r = _list(cloud, admin, version, instance_uuid=uid, **q)
        assert r.status_code == 200, r.text
        return sorted(m["id"] for m in r.json()["migrations"])

    assert ids() == [a.id, b.id]  # never the hidden one
    assert ids(status="error") == [a.id]
    assert ids(host="dst-x") == ids(host="src-x") == ids(source_compute="src-x") == [a.id]
    assert ids(migration_type="migration") == [b.id]
    assert ids("2.80", user_id=me.user_id) == [a.id, b.id]
    assert ids("2.80", project_id=str(uuid.uuid4())) == []
    r = _list(cloud, admin, "2.79", user_id=me.user_id)  # not a 2.79 parameter
    assert r.status_code == 400 and "'user_id' was unexpected" in error(r)[2]
    assert _list(cloud, admin, "2.58", user_id="x", bogus="y").status_code == 200


def test_changes_since_and_before(cloud: Cloud, bus: Bus, me: Who, admin: dict) -> None:
    uid = make_instance(cloud, me, states.RESIZED)
    t0 = dt.datetime(2026, 1, 1, 12, 0, 0)
    old = _record(cloud, uid, me, updated_at=t0)
    new = _record(cloud, uid, me, updated_at=t0 + dt.timedelta(hours=2))

    def ids(version: str, **q: Any) -> list[int]:
        r = _list(cloud, admin, version, instance_uuid=uid, **q)
        assert r.status_code == 200, r.text
        return sorted(m["id"] for m in r.json()["migrations"])

    assert ids("2.58", **{"changes-since": "2026-01-01T13:00:00Z"}) == [old.id, new.id]
    assert ids("2.59", **{"changes-since": "2026-01-01T13:00:00Z"}) == [new.id]
    assert ids("2.66", **{"changes-before": "2026-01-01T13:00:00Z"}) == [old.id]
    crossed = {"changes-since": "2026-01-02T00:00:00Z", "changes-before": "2026-01-01T00:00Z"}
    r = _list(cloud, admin, "2.66", **crossed)
    assert r.status_code == 400 and "changes-since must be less" in error(r)[2]
    assert _list(cloud, admin, "2.59", **{"changes-since": "yesterday"}).status_code == 400


def test_paging_newest_first(cloud: Cloud, bus: Bus, me: Who, admin: dict) -> None:
    uid = make_instance(cloud, me, states.RESIZED)
    t0 = dt.datetime(2026, 2, 1)
    made = [_record(cloud, uid, me, created_at=t0 + dt.timedelta(minutes=i)) for i in range(3)]
    newest_first = [m.uuid for m in reversed(made)]
    r = _list(cloud, admin, "2.59", instance_uuid=uid, limit=2)
    body = r.json()
    assert [m["uuid"] for m in body["migrations"]] == newest_first[:2]
    (link,) = body["migrations_links"]
    assert link["rel"] == "next" and f"marker={newest_first[1]}" in link["href"]
    assert "/compute/v2.1/os-migrations?" in link["href"] and "limit=2" in link["href"]
    r = _list(cloud, admin, "2.59", instance_uuid=uid, limit=2, marker=newest_first[1])
    assert [m["uuid"] for m in r.json()["migrations"]] == newest_first[2:]
    assert "migrations_links" not in r.json()
    assert _list(cloud, admin, "2.59", instance_uuid=uid, limit=0).json() == {"migrations": []}
    missing = str(uuid.uuid4())
    r = _list(cloud, admin, "2.59", marker=missing)
    assert r.status_code == 400 and error(r)[2] == f"Marker {missing} could not be found."
    assert _list(cloud, admin, "2.59", limit=-1).status_code == 400


def test_deleted_servers_migrations_are_not_listed(
    cloud: Cloud, bus: Bus, me: Who, admin: dict
) -> None:
    uid = make_instance(cloud, me, states.RESIZED, host=None)  # deleted by the API itself
    _record(cloud, uid, me)
    assert call(cloud, "DELETE", f"/servers/{uid}", me.headers).status_code == 204
    assert _list(cloud, admin, instance_uuid=uid).json() == {"migrations": []}
    assert [m.deleted for m in _rows(cloud, uid)] == [True]


def test_server_migrations_show_live_migrations_in_progress_only(
    cloud: Cloud, bus: Bus, me: Who, admin: dict
) -> None:
    uid = make_instance(cloud, me)
    resize = _record(cloud, uid, me, status="migrating")
    live = _record(cloud, uid, me, status="running", migration_type="live-migration",
                   memory_total=1024)  # fmt: skip
    done = _record(cloud, uid, me, status="completed", migration_type="live-migration")
    path = f"/servers/{uid}/migrations"
    assert call(cloud, "GET", path, admin, "2.22").status_code == 404
    r = call(cloud, "GET", path, admin, "2.23")
    assert r.status_code == 200, r.text
    (view,) = r.json()["migrations"]
    assert view["id"] == live.id and view["server_uuid"] == uid
    assert view["memory_total_bytes"] == 1024 and "uuid" not in view
    r = call(cloud, "GET", f"{path}/{live.id}", admin, "2.80")
    assert r.status_code == 200 and r.json()["migration"]["uuid"] == live.uuid
    assert r.json()["migration"]["project_id"] == me.project_id
    for mid, words in ((resize.id, "is not live-migration"), (done.id, "is not in progress"),
                       ("nope", "is not found for server")):  # fmt: skip
        r = call(cloud, "GET", f"{path}/{mid}", admin, "2.23")
        assert r.status_code == 404 and words in error(r)[2], r.text
    # os-migrations links to it from 2.23 on
    r = _list(cloud, admin, "2.23", instance_uuid=uid, migration_type="live-migration")
    linked = {m["id"]: m.get("links") for m in r.json()["migrations"]}
    assert linked[done.id] is None
    assert linked[live.id][0]["href"].endswith(f"/v2.1/servers/{uid}/migrations/{live.id}")
    assert call(cloud, "GET", path, me.headers, "2.23").status_code == 403
