"""os-services: list with filters, enable/disable with a reason, forced down (2.11 and
2.53 forms), delete (a compute service takes its node; 409 while it hosts servers)."""

from __future__ import annotations

import datetime as dt

from stackbox.compute.models import ComputeNode
from tests.compute.api.actions_helpers import make_instance, who
from tests.compute.api.conftest import Cloud, call
from tests.compute.api.ops_helpers import add_host, service_of


def _mine(cloud: Cloud, admin: dict, host: str, version: str | None = None) -> dict:
    r = call(cloud, "GET", f"/os-services?host={host}", admin, version)
    assert r.status_code == 200, r.text
    (svc,) = r.json()["services"]
    return svc


def test_list_filters_and_views(cloud: Cloud, admin: dict) -> None:
    host = add_host(cloud)
    ctl = add_host(cloud, binary="stackbox-conductor")
    old = add_host(cloud, seen=dt.datetime(2020, 1, 1))
    svc = _mine(cloud, admin, host)
    assert svc["binary"] == "nova-compute" and svc["zone"] == "nova"
    assert (svc["status"], svc["state"], svc["disabled_reason"]) == ("enabled", "up", None)
    assert isinstance(svc["id"], int) and "forced_down" not in svc
    assert _mine(cloud, admin, ctl)["zone"] == "internal"
    assert _mine(cloud, admin, old)["state"] == "down"
    new = _mine(cloud, admin, host, "2.53")
    assert len(new["id"]) == 36 and new["forced_down"] is False
    r = call(cloud, "GET", f"/os-services?host={ctl}&binary=stackbox-compute", admin)
    assert r.json()["services"] == []
    r = call(cloud, "GET", "/os-services?bogus=1", admin, "2.75")
    assert r.status_code == 400


def test_non_admin_is_forbidden(cloud: Cloud, demo: dict) -> None:
    r = call(cloud, "GET", "/os-services", demo)
    assert r.status_code == 403
    assert "os_compute_api:os-services:list" in r.json()["forbidden"]["message"]


def test_disable_with_reason_and_enable_by_uuid(cloud: Cloud, admin: dict) -> None:
    host = add_host(cloud)
    sid = service_of(cloud, host).uuid
    body = {"status": "disabled", "disabled_reason": "maintenance"}
    r = call(cloud, "PUT", f"/os-services/{sid}", admin, "2.53", json=body)
    assert r.status_code == 200, r.text
    svc = r.json()["service"]
    assert (svc["status"], svc["disabled_reason"], svc["id"]) == ("disabled", "maintenance", sid)
    assert _mine(cloud, admin, host)["status"] == "disabled"
    r = call(cloud, "PUT", f"/os-services/{sid}", admin, "2.53", json={"forced_down": True})
    assert r.json()["service"]["state"] == "down" and r.json()["service"]["forced_down"]
    r = call(cloud, "PUT", f"/os-services/{sid}", admin, "2.53",
             json={"status": "enabled", "forced_down": False})  # fmt: skip
    svc = r.json()["service"]
    assert (svc["status"], svc["state"], svc["disabled_reason"]) == ("enabled", "up", None)


def test_update_errors_v253(cloud: Cloud, admin: dict) -> None:
    host = add_host(cloud)
    sid = service_of(cloud, host).uuid
    bad = {"status": "enabled", "disabled_reason": "x"}
    r = call(cloud, "PUT", f"/os-services/{sid}", admin, "2.53", json=bad)
    assert r.status_code == 400
    r = call(cloud, "PUT", f"/os-services/{sid}", admin, "2.53", json={})
    assert r.status_code == 400
    r = call(cloud, "PUT", f"/os-services/{sid}", admin, "2.53", json={"status": "sleeping"})
    assert r.status_code == 400
    r = call(cloud, "PUT", "/os-services/not-a-uuid", admin, "2.53", json={"status": "enabled"})
    assert r.status_code == 400
    missing = "00000000-0000-0000-0000-000000000000"
    r = call(cloud, "PUT", f"/os-services/{missing}", admin, "2.53", json={"status": "enabled"})
    assert r.status_code == 404
    assert r.json()["itemNotFound"]["message"] == f"Service {missing} could not be found."
    ctl = service_of(cloud, add_host(cloud, binary="stackbox-scheduler")).uuid
    r = call(cloud, "PUT", f"/os-services/{ctl}", admin, "2.53", json={"status": "disabled"})
    assert r.status_code == 400


def test_legacy_actions(cloud: Cloud, admin: dict) -> None:
    host = add_host(cloud)
    hb = {"host": host, "binary": "nova-compute"}
    r = call(cloud, "PUT", "/os-services/disable-log-reason", admin,
             json={**hb, "disabled_reason": "broken fan"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["service"] == {**hb, "status": "disabled", "disabled_reason": "broken fan"}
    assert _mine(cloud, admin, host)["disabled_reason"] == "broken fan"
    r = call(cloud, "PUT", "/os-services/enable", admin, json=hb)
    assert r.json()["service"] == {**hb, "status": "enabled"}
    r = call(
        cloud, "PUT", "/os-services/force-down", admin, "2.11", json={**hb, "forced_down": True}
    )
    assert r.json()["service"] == {**hb, "forced_down": True}
    assert _mine(cloud, admin, host, "2.11")["state"] == "down"
    r = call(cloud, "PUT", "/os-services/force-down", admin, json={**hb, "forced_down": True})
    assert r.status_code == 404  # not before 2.11
    r = call(cloud, "PUT", "/os-services/disable", admin, json={"host": "nope", "binary": "x"})
    assert r.status_code == 404


def test_delete_compute_service(cloud: Cloud, admin: dict) -> None:
    me = who(cloud, admin)
    busy = add_host(cloud)
    make_instance(cloud, me, host=busy)
    rec = service_of(cloud, busy)
    r = call(cloud, "DELETE", f"/os-services/{rec.id}", admin)
    assert r.status_code == 409
    assert "hosting instances" in r.json()["conflictingRequest"]["message"]
    idle = add_host(cloud)
    r = call(cloud, "DELETE", f"/os-services/{service_of(cloud, idle).uuid}", admin, "2.53")
    assert r.status_code == 204
    assert call(cloud, "GET", f"/os-services?host={idle}", admin).json()["services"] == []
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        assert s.query(ComputeNode).filter_by(host=idle).count() == 0
    r = call(cloud, "DELETE", "/os-services/999999", admin)
    assert r.status_code == 404
