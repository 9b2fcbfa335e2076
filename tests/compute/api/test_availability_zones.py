"""os-availability-zone: zones of enabled compute hosts from aggregate metadata (the
default zone otherwise), and the admin's /detail with "internal" and every service."""

from __future__ import annotations

import datetime as dt

from tests.compute.api.conftest import Cloud, call, unique
from tests.compute.api.ops_helpers import add_host, service_of


def _zone(cloud: Cloud, admin: dict, host: str) -> str:
    name = unique("az")
    r = call(cloud, "POST", "/os-aggregates", admin,
             json={"aggregate": {"name": unique("pool"), "availability_zone": name}})  # fmt: skip
    assert r.status_code == 200, r.text
    agg = r.json()["aggregate"]["id"]
    r = call(cloud, "POST", f"/os-aggregates/{agg}/action", admin,
             json={"add_host": {"host": host}})  # fmt: skip
    assert r.status_code == 200, r.text
    return name


def _listed(cloud: Cloud, admin: dict) -> dict[str, dict]:
    return _by_name(
        call(cloud, "GET", "/os-availability-zone", admin).json()["availabilityZoneInfo"]
    )


def _by_name(info: list[dict]) -> dict[str, dict]:
    return {z["zoneName"]: z for z in info}


def test_zones_for_everyone(cloud: Cloud, admin: dict, demo: dict) -> None:
    host = add_host(cloud)
    az = _zone(cloud, admin, host)
    r = call(cloud, "GET", "/os-availability-zone", demo)
    assert r.status_code == 200, r.text
    zones = _by_name(r.json()["availabilityZoneInfo"])
    assert zones[az] == {"zoneName": az, "zoneState": {"available": True}, "hosts": None}
    assert "internal" not in zones
    assert call(cloud, "GET", "/os-availability-zone/detail", demo).status_code == 403


def test_detail_lists_hosts_and_internal_services(cloud: Cloud, admin: dict) -> None:
    host = add_host(cloud)
    ctl = add_host(cloud, binary="stackbox-conductor")
    az = _zone(cloud, admin, host)
    r = call(cloud, "GET", "/os-availability-zone/detail", admin)
    assert r.status_code == 200, r.text
    zones = _by_name(r.json()["availabilityZoneInfo"])
    svc = zones[az]["hosts"][host]["nova-compute"]
    assert svc["available"] is True and svc["active"] is True
    assert dt.datetime.strptime(svc["updated_at"], "%Y-%m-%dT%H:%M:%S.%f")
    assert zones["internal"]["hosts"][ctl]["nova-conductor"]["active"] is True
    assert r.json()["availabilityZoneInfo"][0]["zoneName"] == "internal"


def test_zone_availability_follows_enabled_services_as_nova(cloud: Cloud, admin: dict) -> None:
    # Nova: a zone of only disabled services is unavailable (no hosts in the detail);
    # a down but enabled service keeps its zone available and shows available=false.
    host = add_host(cloud)
    az = _zone(cloud, admin, host)
    sid = service_of(cloud, host).uuid
    call(cloud, "PUT", f"/os-services/{sid}", admin, "2.53", json={"status": "disabled"})
    zones = _by_name(
        call(cloud, "GET", "/os-availability-zone", admin).json()["availabilityZoneInfo"]
    )
    assert zones[az]["zoneState"] == {"available": False}
    detail = _by_name(
        call(cloud, "GET", "/os-availability-zone/detail", admin).json()["availabilityZoneInfo"]
    )
    assert detail[az] == {"zoneName": az, "zoneState": {"available": False}, "hosts": None}
    down = add_host(cloud, seen=dt.datetime(2020, 1, 1))
    az2 = _zone(cloud, admin, down)
    zones = _by_name(
        call(cloud, "GET", "/os-availability-zone", admin).json()["availabilityZoneInfo"]
    )
    assert zones[az2]["zoneState"] == {"available": True}
    detail = _by_name(
        call(cloud, "GET", "/os-availability-zone/detail", admin).json()["availabilityZoneInfo"]
    )
    svc = detail[az2]["hosts"][down]["nova-compute"]
    assert (svc["available"], svc["active"]) == (False, True)
