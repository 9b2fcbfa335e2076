"""The Compute API speaks Nova's binary names (nova-compute, nova-conductor,
nova-scheduler) for stackbox's services, accepts both names in filters and bodies, and
lists no API service, as Nova lists no nova-osapi_compute."""

from __future__ import annotations

from stackbox.compute.api import service_names
from stackbox.service import roles
from tests.compute.api.conftest import Cloud, call
from tests.compute.api.ops_helpers import add_host


def _services(cloud: Cloud, admin: dict, query: str) -> list[dict]:
    r = call(cloud, "GET", f"/os-services?{query}", admin)
    assert r.status_code == 200, r.text
    return r.json()["services"]


def test_every_role_has_a_nova_name() -> None:
    for role in roles.ROLES:
        assert service_names.public(role.binary).startswith("nova-"), role.name
        assert service_names.internal(service_names.public(role.binary)) == role.binary


def test_list_shows_and_filters_by_nova_names(cloud: Cloud, admin: dict) -> None:
    cmp = add_host(cloud)
    ctl = add_host(cloud, binary="stackbox-conductor")
    sch = add_host(cloud, binary="stackbox-scheduler")
    assert [s["binary"] for s in _services(cloud, admin, f"host={ctl}")] == ["nova-conductor"]
    assert [s["binary"] for s in _services(cloud, admin, f"host={sch}")] == ["nova-scheduler"]
    computes = _services(cloud, admin, "binary=nova-compute")
    assert cmp in {s["host"] for s in computes}
    assert {s["binary"] for s in computes} == {"nova-compute"}
    # stackbox's own names still filter, for operators' scripts that used them
    assert _services(cloud, admin, f"host={cmp}&binary=stackbox-compute")[0]["host"] == cmp
    assert _services(cloud, admin, f"host={cmp}&binary=nova-conductor") == []


def test_api_services_are_not_listed(cloud: Cloud, admin: dict) -> None:
    api = add_host(cloud, binary="stackbox-api")
    assert _services(cloud, admin, f"host={api}") == []
    hosts = call(cloud, "GET", "/os-hosts", admin).json()["hosts"]
    assert api not in {h["host_name"] for h in hosts}
    r = call(cloud, "GET", "/os-availability-zone/detail", admin)
    listed = {h for z in r.json()["availabilityZoneInfo"] for h in (z["hosts"] or {})}
    assert api not in listed


def test_legacy_disable_takes_either_name(cloud: Cloud, admin: dict) -> None:
    host = add_host(cloud)
    for name in ("stackbox-compute", "nova-compute"):
        body = {"host": host, "binary": name}
        r = call(cloud, "PUT", "/os-services/disable", admin, json=body)
        assert r.status_code == 200, r.text
        assert r.json()["service"] == {"host": host, "binary": "nova-compute", "status": "disabled"}
