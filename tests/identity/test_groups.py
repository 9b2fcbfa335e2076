"""/v3/groups: CRUD, filters, membership, and roles that reach users through groups."""

from __future__ import annotations

from tests.identity.conftest import Cloud, unique

V3 = "/identity/v3"
GROUP_KEYS = {"id", "name", "domain_id", "description", "links"}


def _group(cloud: Cloud, admin: dict, **kw: object) -> dict:
    r = cloud.client.post(
        f"{V3}/groups", json={"group": {"name": unique("grp"), **kw}}, headers=admin
    )
    assert r.status_code == 201, r.text
    return r.json()["group"]


def _user(cloud: Cloud, admin: dict) -> tuple[dict, str]:
    password = "pw-" + unique("s")
    r = cloud.client.post(
        f"{V3}/users", json={"user": {"name": unique("gu"), "password": password}}, headers=admin
    )
    return r.json()["user"], password


def test_crud_and_filters(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    g = _group(cloud, admin, description="ops team")
    assert set(g) == GROUP_KEYS and g["domain_id"] == "default"
    assert c.get(f"{V3}/groups/{g['id']}", headers=admin).json() == {"group": g}
    listed = c.get(f"{V3}/groups?name={g['name']}", headers=admin).json()
    assert [x["id"] for x in listed["groups"]] == [g["id"]]
    assert listed["links"]["self"].endswith("/v3/groups")
    assert c.get(f"{V3}/groups?domain_id=elsewhere", headers=admin).json()["groups"] == []
    r = c.patch(f"{V3}/groups/{g['id']}", json={"group": {"description": "sre"}}, headers=admin)
    assert r.status_code == 200 and r.json()["group"]["description"] == "sre"
    dup = c.post(f"{V3}/groups", json={"group": {"name": g["name"]}}, headers=admin)
    assert dup.status_code == 409
    assert c.post(f"{V3}/groups", json={"group": {"name": ["x"]}}, headers=admin).status_code == 400
    assert c.delete(f"{V3}/groups/{g['id']}", headers=admin).status_code == 204
    r = c.get(f"{V3}/groups/{g['id']}", headers=admin)
    assert (
        r.status_code == 404 and r.json()["error"]["message"] == f"Could not find group: {g['id']}."
    )


def test_membership(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    g = _group(cloud, admin)
    user, _ = _user(cloud, admin)
    url = f"{V3}/groups/{g['id']}/users/{user['id']}"
    assert c.head(url, headers=admin).status_code == 404
    assert c.put(url, headers=admin).status_code == 204
    assert c.put(url, headers=admin).status_code == 204  # idempotent
    assert c.head(url, headers=admin).status_code == 204
    assert c.get(url, headers=admin).status_code == 204
    members = c.get(f"{V3}/groups/{g['id']}/users", headers=admin).json()
    assert [u["id"] for u in members["users"]] == [user["id"]]
    assert "password" not in members["users"][0]
    r = c.put(f"{V3}/groups/{g['id']}/users/ghost", headers=admin)
    assert r.status_code == 404 and r.json()["error"]["message"] == "Could not find user: ghost."
    r = c.put(f"{V3}/groups/nogroup/users/{user['id']}", headers=admin)
    assert r.status_code == 404 and "group" in r.json()["error"]["message"]
    assert c.delete(url, headers=admin).status_code == 204
    assert c.delete(url, headers=admin).status_code == 404
    assert c.get(f"{V3}/groups/{g['id']}/users", headers=admin).json()["users"] == []


def test_member_cannot_manage_groups(cloud: Cloud, admin: dict) -> None:
    h = cloud.headers(cloud.token("demo", project="demo"))
    c = cloud.client
    assert c.get(f"{V3}/groups", headers=h).status_code == 403
    assert (
        c.post(f"{V3}/groups", json={"group": {"name": unique("g")}}, headers=h).status_code == 403
    )


def test_roles_through_group_follow_membership(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    g = _group(cloud, admin)
    user, password = _user(cloud, admin)
    project = c.post(
        f"{V3}/projects", json={"project": {"name": unique("gp")}}, headers=admin
    ).json()["project"]
    reader = c.get(f"{V3}/roles?name=reader", headers=admin).json()["roles"][0]
    assert (
        c.put(
            f"{V3}/projects/{project['id']}/groups/{g['id']}/roles/{reader['id']}", headers=admin
        ).status_code
        == 204
    )
    assert c.put(f"{V3}/groups/{g['id']}/users/{user['id']}", headers=admin).status_code == 204
    token = cloud.token(user["name"], password, project["name"])
    h = {"X-Auth-Token": token, "X-Subject-Token": token}
    body = c.get(f"{V3}/auth/tokens", headers=h).json()["token"]
    assert [r["name"] for r in body["roles"]] == ["reader"]
    # Leaving the group takes the role away from the live token.
    assert c.delete(f"{V3}/groups/{g['id']}/users/{user['id']}", headers=admin).status_code == 204
    assert c.get(f"{V3}/auth/catalog", headers=cloud.headers(token)).status_code == 401


def test_deleting_group_removes_its_grants(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    g = _group(cloud, admin)
    member = c.get(f"{V3}/roles?name=member", headers=admin).json()["roles"][0]
    assert (
        c.put(
            f"{V3}/domains/default/groups/{g['id']}/roles/{member['id']}", headers=admin
        ).status_code
        == 204
    )
    assert c.delete(f"{V3}/groups/{g['id']}", headers=admin).status_code == 204
    ra = c.get(f"{V3}/role_assignments?group.id={g['id']}", headers=admin).json()
    assert ra["role_assignments"] == []
