"""/v3/roles and role grants: shapes against Keystone's sample, uniqueness, immutable
roles, the grant URL families, and grants taking effect on tokens at once."""

from __future__ import annotations

import json
from pathlib import Path

from tests.identity.conftest import Cloud, unique

V3 = "/identity/v3"
SAMPLE = Path("/work/shared/api-samples/identity/roles-list.json")
ROLE_KEYS = {"id", "name", "domain_id", "description", "options", "links"}


def _role(cloud: Cloud, admin: dict, **kw: object) -> dict:
    r = cloud.client.post(
        f"{V3}/roles", json={"role": {"name": unique("role"), **kw}}, headers=admin
    )
    assert r.status_code == 201, r.text
    return r.json()["role"]


def _role_id(cloud: Cloud, admin: dict, name: str) -> str:
    return cloud.client.get(f"{V3}/roles?name={name}", headers=admin).json()["roles"][0]["id"]


def _user_and_project(cloud: Cloud, admin: dict) -> tuple[dict, str, dict]:
    c, password = cloud.client, "pw-" + unique("s")
    user = c.post(
        f"{V3}/users", json={"user": {"name": unique("ru"), "password": password}}, headers=admin
    ).json()["user"]
    project = c.post(
        f"{V3}/projects", json={"project": {"name": unique("rp")}}, headers=admin
    ).json()["project"]
    return user, password, project


def _scope_status(cloud: Cloud, user: dict, password: str, scope: dict) -> int:
    return cloud.client.post(
        f"{V3}/auth/tokens",
        json={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"id": user["id"], "password": password}},
                },
                "scope": scope,
            }
        },
    ).status_code


def test_list_matches_sample(cloud: Cloud, admin: dict) -> None:
    body = cloud.client.get(f"{V3}/roles", headers=admin).json()
    roles = {r["name"]: r for r in body["roles"]}
    assert {"admin", "member", "reader", "manager", "service"} <= set(roles)
    assert roles["member"]["options"] == {"immutable": True}
    assert roles["member"]["domain_id"] is None and roles["member"]["description"] is None
    if SAMPLE.exists():
        sample = json.loads(SAMPLE.read_text())["response_body"]
        assert set(body) == set(sample)
        assert set(roles["member"]) == set(sample["roles"][0]) == ROLE_KEYS
    assert body["links"]["self"].endswith("/identity/v3/roles")


def test_crud_uniqueness_and_immutable(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    r = _role(cloud, admin, description="custom")
    assert set(r) == ROLE_KEYS and r["options"] == {}
    assert c.get(f"{V3}/roles/{r['id']}", headers=admin).json() == {"role": r}
    dup = c.post(f"{V3}/roles", json={"role": {"name": "member"}}, headers=admin)
    assert dup.status_code == 409 and "member" in dup.json()["error"]["message"]
    assert (
        c.post(f"{V3}/roles", json={"role": {"name": r["name"]}}, headers=admin).status_code == 409
    )
    assert c.post(f"{V3}/roles", json={"role": {"name": 3}}, headers=admin).status_code == 400
    up = c.patch(f"{V3}/roles/{r['id']}", json={"role": {"description": "changed"}}, headers=admin)
    assert up.status_code == 200 and up.json()["role"]["description"] == "changed"
    member = _role_id(cloud, admin, "member")
    assert c.delete(f"{V3}/roles/{member}", headers=admin).status_code == 403
    assert (
        c.patch(
            f"{V3}/roles/{member}", json={"role": {"description": "x"}}, headers=admin
        ).status_code
        == 403
    )
    assert c.delete(f"{V3}/roles/{r['id']}", headers=admin).status_code == 204
    gone = c.get(f"{V3}/roles/{r['id']}", headers=admin)
    assert gone.status_code == 404
    assert gone.json()["error"]["message"] == f"Could not find role: {r['id']}."


def test_domain_specific_roles(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    r = _role(cloud, admin, name="member", domain_id="default")  # may share a global name
    assert r["domain_id"] == "default"
    ids = {x["id"] for x in c.get(f"{V3}/roles?domain_id=default", headers=admin).json()["roles"]}
    assert r["id"] in ids
    assert r["id"] not in {x["id"] for x in c.get(f"{V3}/roles", headers=admin).json()["roles"]}
    c.delete(f"{V3}/roles/{r['id']}", headers=admin)


def test_project_grant_lifecycle_and_token_effect(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    user, password, project = _user_and_project(cloud, admin)
    member = _role_id(cloud, admin, "member")
    url = f"{V3}/projects/{project['id']}/users/{user['id']}/roles/{member}"
    scope = {"project": {"id": project["id"]}}
    assert _scope_status(cloud, user, password, scope) == 401
    assert c.head(url, headers=admin).status_code == 404
    assert c.put(url, headers=admin).status_code == 204
    assert c.head(url, headers=admin).status_code == 204
    listed = c.get(f"{V3}/projects/{project['id']}/users/{user['id']}/roles", headers=admin)
    assert [r["name"] for r in listed.json()["roles"]] == ["member"]
    token = cloud.token(user["name"], password, project["name"])
    h = {"X-Auth-Token": token, "X-Subject-Token": token}
    roles = {r["name"] for r in c.get(f"{V3}/auth/tokens", headers=h).json()["token"]["roles"]}
    assert roles == {"member", "reader"}  # member implies reader
    assert c.get(f"{V3}/projects/{project['id']}", headers=cloud.headers(token)).status_code == 200
    assert c.delete(url, headers=admin).status_code == 204
    assert c.get(f"{V3}/projects/{project['id']}", headers=cloud.headers(token)).status_code == 401
    r = c.delete(url, headers=admin)
    assert r.status_code == 404 and "Could not find role assignment" in r.json()["error"]["message"]


def test_grant_adds_roles_to_live_token(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    user, password, project = _user_and_project(cloud, admin)
    c.put(
        f"{V3}/projects/{project['id']}/users/{user['id']}/roles/"
        f"{_role_id(cloud, admin, 'reader')}",
        headers=admin,
    )
    token = cloud.token(user["name"], password, project["name"])
    h = {"X-Auth-Token": token, "X-Subject-Token": token}
    assert [r["name"] for r in c.get(f"{V3}/auth/tokens", headers=h).json()["token"]["roles"]] == [
        "reader"
    ]
    c.put(
        f"{V3}/projects/{project['id']}/users/{user['id']}/roles/{_role_id(cloud, admin, 'admin')}",
        headers=admin,
    )
    roles = {r["name"] for r in c.get(f"{V3}/auth/tokens", headers=h).json()["token"]["roles"]}
    assert roles == {"admin", "manager", "member", "reader"}  # Keystone's hierarchy
    assert c.get(f"{V3}/users", headers=cloud.headers(token)).status_code == 200


def test_unknown_entities_in_grants_are_404(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    user, _, project = _user_and_project(cloud, admin)
    member = _role_id(cloud, admin, "member")
    cases = {
        f"/projects/nope/users/{user['id']}/roles/{member}": "project: nope",
        f"/projects/{project['id']}/users/nope/roles/{member}": "user: nope",
        f"/projects/{project['id']}/users/{user['id']}/roles/nope": "role: nope",
        f"/projects/{project['id']}/groups/nope/roles/{member}": "group: nope",
        f"/domains/nope/users/{user['id']}/roles/{member}": "domain: nope",
    }
    for path, what in cases.items():
        r = c.put(V3 + path, headers=admin)
        assert r.status_code == 404, path
        assert r.json()["error"]["message"] == f"Could not find {what}.", path


def test_domain_system_and_inherited_grants(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    user, password, project = _user_and_project(cloud, admin)
    reader = _role_id(cloud, admin, "reader")
    # Domain grant: a domain-scoped token becomes possible.
    assert _scope_status(cloud, user, password, {"domain": {"id": "default"}}) == 401
    assert (
        c.put(f"{V3}/domains/default/users/{user['id']}/roles/{reader}", headers=admin).status_code
        == 204
    )
    assert _scope_status(cloud, user, password, {"domain": {"id": "default"}}) == 201
    assert [
        r["id"]
        for r in c.get(f"{V3}/domains/default/users/{user['id']}/roles", headers=admin).json()[
            "roles"
        ]
    ] == [reader]
    # System grant.
    sys_url = f"{V3}/system/users/{user['id']}/roles/{reader}"
    assert _scope_status(cloud, user, password, {"system": {"all": True}}) == 401
    assert c.put(sys_url, headers=admin).status_code == 204
    assert c.head(sys_url, headers=admin).status_code == 204
    assert _scope_status(cloud, user, password, {"system": {"all": True}}) == 201
    assert [
        r["id"]
        for r in c.get(f"{V3}/system/users/{user['id']}/roles", headers=admin).json()["roles"]
    ] == [reader]
    assert c.delete(sys_url, headers=admin).status_code == 204
    assert _scope_status(cloud, user, password, {"system": {"all": True}}) == 401
    # Inherited domain grant: reaches every project of the domain.
    scope = {"project": {"id": project["id"]}}
    assert _scope_status(cloud, user, password, scope) == 401
    inh = f"{V3}/OS-INHERIT/domains/default/users/{user['id']}/roles/{reader}/inherited_to_projects"
    assert c.put(inh, headers=admin).status_code == 204
    assert c.get(inh, headers=admin).status_code == 204
    assert _scope_status(cloud, user, password, scope) == 201
    listed = c.get(
        f"{V3}/OS-INHERIT/domains/default/users/{user['id']}/roles/inherited_to_projects",
        headers=admin,
    ).json()["roles"]
    assert [r["id"] for r in listed] == [reader]
    assert c.delete(inh, headers=admin).status_code == 204
    assert _scope_status(cloud, user, password, scope) == 401
    c.delete(f"{V3}/domains/default/users/{user['id']}/roles/{reader}", headers=admin)


def test_members_cannot_grant_or_manage_roles(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    h = cloud.headers(cloud.token("demo", project="demo"))
    user, _, project = _user_and_project(cloud, admin)
    member = _role_id(cloud, admin, "member")
    assert (
        c.put(
            f"{V3}/projects/{project['id']}/users/{user['id']}/roles/{member}", headers=h
        ).status_code
        == 403
    )
    assert c.post(f"{V3}/roles", json={"role": {"name": unique("r")}}, headers=h).status_code == 403
    assert c.get(f"{V3}/roles/{member}", headers=h).status_code == 200  # readers may look
