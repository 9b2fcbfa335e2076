"""OS-EP-FILTER endpoint groups: CRUD, filter checks, the endpoints a group selects,
project associations, admin only."""

from __future__ import annotations

from tests.identity.conftest import Cloud, unique
from tests.identity.people import V3, member

EG = f"{V3}/OS-EP-FILTER/endpoint_groups"


def _service(cloud: Cloud, admin: dict) -> str:
    r = cloud.client.post(
        f"{V3}/services", json={"service": {"type": unique("t"), "name": "s"}}, headers=admin
    )
    return r.json()["service"]["id"]


def test_crud_endpoints_and_projects(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    sid = _service(cloud, admin)
    ep = c.post(
        f"{V3}/endpoints",
        json={"endpoint": {"service_id": sid, "interface": "public", "url": "http://x"}},
        headers=admin,
    ).json()["endpoint"]
    body = {"name": unique("g"), "description": "d", "filters": {"service_id": sid}}
    r = c.post(EG, json={"endpoint_group": body}, headers=admin)
    assert r.status_code == 201
    g = r.json()["endpoint_group"]
    assert c.get(f"{EG}/{g['id']}", headers=admin).json()["endpoint_group"] == g
    assert g in c.get(EG, headers=admin).json()["endpoint_groups"]
    assert c.head(f"{EG}/{g['id']}", headers=admin).status_code == 200
    listed = c.get(f"{EG}/{g['id']}/endpoints", headers=admin).json()["endpoints"]
    assert [e["id"] for e in listed] == [ep["id"]]
    r = c.patch(
        f"{EG}/{g['id']}",
        json={"endpoint_group": {"name": "n2", "filters": {"interface": "admin"}}},
        headers=admin,
    )
    assert r.json()["endpoint_group"]["filters"] == {"interface": "admin"}
    pid = c.get(f"{V3}/projects?name=demo", headers=admin).json()["projects"][0]["id"]
    link = f"{EG}/{g['id']}/projects/{pid}"
    assert c.get(link, headers=admin).status_code == 404
    assert c.put(link, headers=admin).status_code == 204
    assert c.get(link, headers=admin).json()["project_endpoint_group"]["project_id"] == pid
    assert [
        p["id"] for p in c.get(f"{EG}/{g['id']}/projects", headers=admin).json()["projects"]
    ] == [pid]
    mine = c.get(f"{V3}/OS-EP-FILTER/projects/{pid}/endpoint_groups", headers=admin).json()
    assert [x["id"] for x in mine["endpoint_groups"]] == [g["id"]]
    assert c.delete(link, headers=admin).status_code == 204
    assert c.delete(link, headers=admin).status_code == 404
    assert c.put(f"{EG}/{g['id']}/projects/nope", headers=admin).status_code == 404
    assert c.delete(f"{EG}/{g['id']}", headers=admin).status_code == 204
    assert c.get(f"{EG}/{g['id']}", headers=admin).status_code == 404


def test_errors_and_admin_only(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    bad = [
        {"name": "x"},
        {"name": "x", "filters": {}},
        {"name": "x", "filters": {"enabled": True}},
        {"name": "x", "filters": {"interface": "sideways"}},
        {"name": "x", "filters": {"interface": "public"}, "extra": 1},
    ]
    for body in bad:
        assert c.post(EG, json={"endpoint_group": body}, headers=admin).status_code == 400, body
    m = member(cloud, admin)
    assert c.get(EG, headers=m.headers).status_code == 403
    body = {"name": "x", "filters": {"interface": "public"}}
    assert c.post(EG, json={"endpoint_group": body}, headers=m.headers).status_code == 403
