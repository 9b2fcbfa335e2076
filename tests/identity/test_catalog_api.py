"""/v3/regions, /v3/services, /v3/endpoints: CRUD, filters, validation, and the token
catalog following every change."""

from __future__ import annotations

from tests.identity.conftest import Cloud, unique

V3 = "/identity/v3"


def _catalog(cloud: Cloud) -> dict:
    h = cloud.headers(cloud.token())
    return {
        s["type"]: s for s in cloud.client.get(f"{V3}/auth/catalog", headers=h).json()["catalog"]
    }


def test_bootstrap_catalog_shapes(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    services = c.get(f"{V3}/services", headers=admin).json()
    assert set(services["links"]) == {"self", "next", "previous"}
    by_type = {s["type"]: s for s in services["services"]}
    assert {"identity", "compute", "image", "network", "block-storage"} <= set(by_type)
    assert set(by_type["identity"]) == {"id", "type", "name", "enabled", "links"}
    eps = c.get(f"{V3}/endpoints?service_id={by_type['identity']['id']}", headers=admin).json()[
        "endpoints"
    ]
    assert {e["interface"] for e in eps} == {"public", "internal", "admin"}
    assert set(eps[0]) == {
        "id",
        "interface",
        "region_id",
        "region",
        "service_id",
        "url",
        "enabled",
        "links",
    }
    assert eps[0]["region"] == eps[0]["region_id"] == "RegionOne"
    public = c.get(f"{V3}/endpoints?interface=public&region_id=RegionOne", headers=admin).json()[
        "endpoints"
    ]
    assert public and all(e["interface"] == "public" for e in public)
    compute = c.get(f"{V3}/services?type=compute", headers=admin).json()["services"]
    assert [s["name"] for s in compute] == ["nova"]


def test_regions(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    parent = c.post(
        f"{V3}/regions", json={"region": {"id": unique("Reg"), "description": "top"}}, headers=admin
    )
    assert parent.status_code == 201
    pr = parent.json()["region"]
    assert set(pr) == {"id", "description", "parent_region_id", "links"}
    child = c.put(
        f"{V3}/regions/{unique('Sub')}",
        json={"region": {"parent_region_id": pr["id"]}},
        headers=admin,
    )
    assert child.status_code == 201
    ch = child.json()["region"]
    assert ch["parent_region_id"] == pr["id"] and ch["description"] == ""
    auto = c.post(f"{V3}/regions", json={"region": {}}, headers=admin).json()["region"]
    assert len(auto["id"]) == 32
    assert (
        c.post(f"{V3}/regions", json={"region": {"id": pr["id"]}}, headers=admin).status_code == 409
    )
    assert (
        c.post(
            f"{V3}/regions", json={"region": {"parent_region_id": "nowhere"}}, headers=admin
        ).status_code
        == 404
    )
    r = c.patch(
        f"{V3}/regions/{pr['id']}", json={"region": {"parent_region_id": ch["id"]}}, headers=admin
    )
    assert r.status_code == 400 and "circular" in r.json()["error"]["message"]
    kids = c.get(f"{V3}/regions?parent_region_id={pr['id']}", headers=admin).json()["regions"]
    assert [k["id"] for k in kids] == [ch["id"]]
    r = c.patch(f"{V3}/regions/{ch['id']}", json={"region": {"description": "leaf"}}, headers=admin)
    assert r.json()["region"]["description"] == "leaf"
    assert c.delete(f"{V3}/regions/{pr['id']}", headers=admin).status_code == 204
    assert c.get(f"{V3}/regions/{ch['id']}", headers=admin).status_code == 404
    assert c.delete(f"{V3}/regions/RegionOne", headers=admin).status_code == 403
    c.delete(f"{V3}/regions/{auto['id']}", headers=admin)


def test_service_and_endpoint_lifecycle_reach_the_token_catalog(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    stype = unique("widget")
    r = c.post(
        f"{V3}/services",
        json={"service": {"type": stype, "name": "widgets", "description": "w"}},
        headers=admin,
    )
    assert r.status_code == 201
    svc = r.json()["service"]
    assert (svc["type"], svc["name"], svc["enabled"], svc["description"]) == (
        stype,
        "widgets",
        True,
        "w",
    )
    r = c.post(
        f"{V3}/endpoints",
        json={
            "endpoint": {
                "service_id": svc["id"],
                "interface": "public",
                "url": "http://w.example/v1",
                "region_id": "RegionOne",
            }
        },
        headers=admin,
    )
    assert r.status_code == 201
    ep = r.json()["endpoint"]
    assert ep["region"] == ep["region_id"] == "RegionOne" and ep["enabled"] is True
    cat = _catalog(cloud)
    assert cat[stype]["endpoints"][0]["url"] == "http://w.example/v1"
    r = c.patch(
        f"{V3}/endpoints/{ep['id']}", json={"endpoint": {"url": "http://w2.example"}}, headers=admin
    )
    assert r.status_code == 200 and r.json()["endpoint"]["url"] == "http://w2.example"
    assert _catalog(cloud)[stype]["endpoints"][0]["url"] == "http://w2.example"
    assert (
        c.get(f"{V3}/endpoints/{ep['id']}", headers=admin).json()["endpoint"]["url"]
        == "http://w2.example"
    )
    r = c.patch(f"{V3}/services/{svc['id']}", json={"service": {"name": "gadgets"}}, headers=admin)
    assert r.json()["service"]["name"] == "gadgets"
    assert _catalog(cloud)[stype]["name"] == "gadgets"
    assert c.delete(f"{V3}/services/{svc['id']}", headers=admin).status_code == 204
    assert c.get(f"{V3}/endpoints/{ep['id']}", headers=admin).status_code == 404
    assert stype not in _catalog(cloud)


def test_endpoint_validation(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    svc = c.post(f"{V3}/services", json={"service": {"type": unique("t")}}, headers=admin).json()[
        "service"
    ]
    base = {"service_id": svc["id"], "interface": "public", "url": "http://x.example"}

    def post(**kw: object) -> object:
        return c.post(f"{V3}/endpoints", json={"endpoint": {**base, **kw}}, headers=admin)

    bad = post(interface="private")
    assert bad.status_code == 400 and "interface" in bad.json()["error"]["message"]
    assert post(url=7).status_code == 400
    assert post(service_id="nope").status_code == 400
    assert post(region_id="no-such-region").status_code == 400
    legacy_region = unique("Legacy")
    r = post(region=legacy_region)  # the legacy `region` creates the region
    assert r.status_code == 201 and r.json()["endpoint"]["region_id"] == legacy_region
    assert c.get(f"{V3}/regions/{legacy_region}", headers=admin).status_code == 200
    assert c.delete(f"{V3}/regions/{legacy_region}", headers=admin).status_code == 403
    assert (
        c.delete(f"{V3}/endpoints/{r.json()['endpoint']['id']}", headers=admin).status_code == 204
    )
    assert c.delete(f"{V3}/regions/{legacy_region}", headers=admin).status_code == 204
    assert (
        c.post(f"{V3}/services", json={"service": {"name": "x"}}, headers=admin).status_code == 400
    )
    c.delete(f"{V3}/services/{svc['id']}", headers=admin)
    r = c.get(f"{V3}/services/{svc['id']}", headers=admin)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == f"Could not find service: {svc['id']}."


def test_members_cannot_change_the_catalog(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    h = cloud.headers(cloud.token("demo", project="demo"))
    assert c.get(f"{V3}/services", headers=h).status_code == 403
    assert c.get(f"{V3}/endpoints", headers=h).status_code == 403
    assert c.get(f"{V3}/regions", headers=h).status_code == 200
    assert c.post(f"{V3}/regions", json={"region": {}}, headers=h).status_code == 403
    assert c.post(f"{V3}/services", json={"service": {"type": "x"}}, headers=h).status_code == 403
