"""/v3/domains: CRUD, filters, the disable-before-delete rule, cascading deletes and the
Default domain's protection."""

from __future__ import annotations

from tests.identity.conftest import Cloud, unique

V3 = "/identity/v3"
DOMAIN_KEYS = {"id", "name", "description", "enabled", "tags", "options", "links"}


def _domain(cloud: Cloud, admin: dict, **kw: object) -> dict:
    r = cloud.client.post(
        f"{V3}/domains", json={"domain": {"name": unique("dom"), **kw}}, headers=admin
    )
    assert r.status_code == 201, r.text
    return r.json()["domain"]


def test_default_domain_shape(cloud: Cloud, admin: dict) -> None:
    r = cloud.client.get(f"{V3}/domains/default", headers=admin)
    assert r.status_code == 200
    d = r.json()["domain"]
    assert set(d) == DOMAIN_KEYS
    assert (d["id"], d["name"], d["enabled"]) == ("default", "Default", True)
    assert d["links"]["self"].endswith("/identity/v3/domains/default")


def test_crud_and_filters(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    d = _domain(cloud, admin, description="a domain", tags=["x"], owner="ops")
    assert set(d) == DOMAIN_KEYS | {"owner"} and d["tags"] == ["x"]
    assert c.get(f"{V3}/domains/{d['id']}", headers=admin).json() == {"domain": d}
    found = c.get(f"{V3}/domains?name={d['name']}", headers=admin).json()
    assert [x["id"] for x in found["domains"]] == [d["id"]]
    assert set(found["links"]) == {"self", "next", "previous"}
    r = c.patch(
        f"{V3}/domains/{d['id']}",
        json={"domain": {"enabled": False, "description": "off"}},
        headers=admin,
    )
    assert r.status_code == 200 and r.json()["domain"]["enabled"] is False
    assert d["name"] in {
        x["name"] for x in c.get(f"{V3}/domains?enabled=false", headers=admin).json()["domains"]
    }
    assert d["name"] not in {
        x["name"] for x in c.get(f"{V3}/domains?enabled=true", headers=admin).json()["domains"]
    }


def test_errors(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    d = _domain(cloud, admin)
    assert (
        c.post(f"{V3}/domains", json={"domain": {"name": d["name"]}}, headers=admin).status_code
        == 409
    )
    r = c.post(
        f"{V3}/domains", json={"domain": {"name": unique("d"), "enabled": "yes"}}, headers=admin
    )
    assert r.status_code == 400 and "enabled" in r.json()["error"]["message"]
    r = c.get(f"{V3}/domains/nope", headers=admin)
    assert r.status_code == 404 and r.json()["error"]["message"] == "Could not find domain: nope."


def test_delete_requires_disable_and_cascades(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    d = _domain(cloud, admin)
    project = c.post(
        f"{V3}/projects", json={"project": {"name": "p", "domain_id": d["id"]}}, headers=admin
    ).json()["project"]
    assert project["domain_id"] == d["id"] and project["parent_id"] == d["id"]
    user = c.post(
        f"{V3}/users",
        json={"user": {"name": "u", "domain_id": d["id"], "password": "pw"}},
        headers=admin,
    ).json()["user"]
    group = c.post(
        f"{V3}/groups", json={"group": {"name": "g", "domain_id": d["id"]}}, headers=admin
    ).json()["group"]
    member = c.get(f"{V3}/roles?name=member", headers=admin).json()["roles"][0]
    c.put(f"{V3}/projects/{project['id']}/users/{user['id']}/roles/{member['id']}", headers=admin)
    r = c.delete(f"{V3}/domains/{d['id']}", headers=admin)
    assert r.status_code == 403
    assert r.json()["error"]["message"] == (
        "Cannot delete a domain that is enabled, please disable it first."
    )
    c.patch(f"{V3}/domains/{d['id']}", json={"domain": {"enabled": False}}, headers=admin)
    assert c.delete(f"{V3}/domains/{d['id']}", headers=admin).status_code == 204
    assert c.get(f"{V3}/domains/{d['id']}", headers=admin).status_code == 404
    assert c.get(f"{V3}/projects/{project['id']}", headers=admin).status_code == 404
    assert c.get(f"{V3}/users/{user['id']}", headers=admin).status_code == 404
    assert c.get(f"{V3}/groups/{group['id']}", headers=admin).status_code == 404
    ra = c.get(f"{V3}/role_assignments?user.id={user['id']}", headers=admin).json()
    assert ra["role_assignments"] == []


def test_disabled_domain_blocks_its_users(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    d = _domain(cloud, admin)
    user = c.post(
        f"{V3}/users",
        json={"user": {"name": "u", "domain_id": d["id"], "password": "pw"}},
        headers=admin,
    ).json()["user"]
    project = c.post(
        f"{V3}/projects", json={"project": {"name": "p", "domain_id": d["id"]}}, headers=admin
    ).json()["project"]
    member = c.get(f"{V3}/roles?name=member", headers=admin).json()["roles"][0]
    c.put(f"{V3}/projects/{project['id']}/users/{user['id']}/roles/{member['id']}", headers=admin)
    token = cloud.token("u", "pw", "p", domain=d["name"])
    assert c.get(f"{V3}/auth/catalog", headers=cloud.headers(token)).status_code == 200
    c.patch(f"{V3}/domains/{d['id']}", json={"domain": {"enabled": False}}, headers=admin)
    assert c.get(f"{V3}/auth/catalog", headers=cloud.headers(token)).status_code == 401


def test_default_domain_is_protected(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    assert (
        c.patch(
            f"{V3}/domains/default", json={"domain": {"enabled": False}}, headers=admin
        ).status_code
        == 403
    )
    assert c.delete(f"{V3}/domains/default", headers=admin).status_code == 403
    assert c.get(f"{V3}/domains/default", headers=admin).json()["domain"]["enabled"] is True


def test_member_policy(cloud: Cloud, admin: dict) -> None:
    h = cloud.headers(cloud.token("demo", project="demo"))
    c = cloud.client
    assert c.get(f"{V3}/domains", headers=h).status_code == 403
    # Anyone may read the domain of the project they are scoped to.
    assert c.get(f"{V3}/domains/default", headers=h).status_code == 200
    other = _domain(cloud, admin)
    assert c.get(f"{V3}/domains/{other['id']}", headers=h).status_code == 403
    assert (
        c.post(f"{V3}/domains", json={"domain": {"name": unique("d")}}, headers=h).status_code
        == 403
    )
