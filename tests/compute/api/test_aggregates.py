"""os-aggregates: create with a zone, metadata, hosts, and Nova's errors."""

from __future__ import annotations

import uuid

from stackbox.compute import zones
from stackbox.service.models import ServiceRecord
from tests.compute.api.conftest import call, unique


def _compute_host(cloud) -> str:  # type: ignore[no-untyped-def]
    host = unique("cmp")
    with cloud.state.db.session() as s:
        s.add(ServiceRecord(uuid=str(uuid.uuid4()), binary="stackbox-compute",
                            topic="compute", host=host))  # fmt: skip
    return host


def _create(cloud, admin, name, zone=None):  # type: ignore[no-untyped-def]
    body = {"aggregate": {"name": name, **({"availability_zone": zone} if zone else {})}}
    return call(cloud, "POST", "/os-aggregates", admin, json=body)


def test_create_show_list_with_zone(cloud, admin) -> None:  # type: ignore[no-untyped-def]
    name, az = unique("pool"), unique("az")
    r = _create(cloud, admin, name, az)
    assert r.status_code == 200, r.text
    agg = r.json()["aggregate"]
    assert agg["availability_zone"] == az and agg["name"] == name and "uuid" not in agg
    r = call(cloud, "GET", f"/os-aggregates/{agg['id']}", admin, "2.41")
    shown = r.json()["aggregate"]
    assert shown["metadata"] == {"availability_zone": az} and shown["hosts"] == []
    assert len(shown["uuid"]) == 36
    listed = call(cloud, "GET", "/os-aggregates", admin).json()["aggregates"]
    assert agg["id"] in [a["id"] for a in listed]
    assert _create(cloud, admin, name).status_code == 409


def test_non_admin_forbidden(cloud, demo) -> None:  # type: ignore[no-untyped-def]
    assert call(cloud, "GET", "/os-aggregates", demo).status_code == 403
    assert _create(cloud, demo, unique("x")).status_code == 403


def test_hosts_zones_and_metadata(cloud, admin) -> None:  # type: ignore[no-untyped-def]
    host = _compute_host(cloud)
    az1, az2 = unique("az"), unique("az")
    a1 = _create(cloud, admin, unique("p"), az1).json()["aggregate"]["id"]
    a2 = _create(cloud, admin, unique("p"), az2).json()["aggregate"]["id"]
    act = f"/os-aggregates/{a1}/action"
    r = call(cloud, "POST", act, admin, json={"add_host": {"host": host}})
    assert r.status_code == 200 and r.json()["aggregate"]["hosts"] == [host]
    assert call(cloud, "POST", act, admin, json={"add_host": {"host": host}}).status_code == 409
    r = call(cloud, "POST", act, admin, json={"add_host": {"host": "no-such-host"}})
    assert r.status_code == 404
    # a host cannot be in two zones
    r = call(cloud, "POST", f"/os-aggregates/{a2}/action", admin, json={"add_host": {"host": host}})
    assert r.status_code == 400 and "availability zone" in r.text
    with cloud.state.db.session() as s:
        assert zones.zone_of(s, host, "nova") == az1
        assert zones.host_zones(s, "nova")[host] == az1
    # metadata: set, zone via metadata, null removes
    r = call(cloud, "POST", act, admin, json={"set_metadata": {"metadata": {"ssd": "true"}}})
    assert r.json()["aggregate"]["metadata"] == {"availability_zone": az1, "ssd": "true"}
    az3 = unique("az")
    body = {"set_metadata": {"metadata": {"ssd": None, "availability_zone": az3}}}
    r = call(cloud, "POST", act, admin, json=body)
    assert r.json()["aggregate"]["metadata"] == {"availability_zone": az3}
    assert r.json()["aggregate"]["availability_zone"] == az3
    # update name and zone
    r = call(
        cloud, "PUT", f"/os-aggregates/{a1}", admin, json={"aggregate": {"name": "renamed-" + az1}}
    )
    assert r.status_code == 200 and r.json()["aggregate"]["name"] == "renamed-" + az1
    # delete refuses while hosts are in, works after remove_host
    assert call(cloud, "DELETE", f"/os-aggregates/{a1}", admin).status_code == 400
    r = call(cloud, "POST", act, admin, json={"remove_host": {"host": host}})
    assert r.status_code == 200 and r.json()["aggregate"]["hosts"] == []
    assert call(cloud, "POST", act, admin, json={"remove_host": {"host": host}}).status_code == 404
    assert call(cloud, "DELETE", f"/os-aggregates/{a1}", admin).status_code == 200
    assert call(cloud, "GET", f"/os-aggregates/{a1}", admin).status_code == 404
    with cloud.state.db.session() as s:
        assert zones.zone_of(s, host, "nova") == "nova"


def test_bad_input(cloud, admin) -> None:  # type: ignore[no-untyped-def]
    assert call(cloud, "POST", "/os-aggregates", admin, json={"aggregate": {}}).status_code == 400
    assert _create(cloud, admin, unique("p"), "bad:zone").status_code == 400
    a = _create(cloud, admin, unique("p")).json()["aggregate"]["id"]
    r = call(cloud, "POST", f"/os-aggregates/{a}/action", admin, json={"explode": {}})
    assert r.status_code == 400
    assert call(cloud, "GET", "/os-aggregates/999999", admin).status_code == 404


def test_empty_zone_name_is_refused(cloud, admin) -> None:  # type: ignore[no-untyped-def]
    a = _create(cloud, admin, unique("p")).json()["aggregate"]["id"]
    body = {"set_metadata": {"metadata": {"availability_zone": " "}}}
    r = call(cloud, "POST", f"/os-aggregates/{a}/action", admin, json=body)
    assert r.status_code == 400 and "empty named availability zone" in r.text
