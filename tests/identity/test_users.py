"""/v3/users: shapes against Keystone's sample, filters, errors, who may see whom, and
what password changes, disabling and deleting do to tokens."""

from __future__ import annotations

import json
from pathlib import Path

from tests.identity.conftest import Cloud, unique

V3 = "/identity/v3"
SAMPLE = Path("/work/shared/api-samples/identity/users-list.json")
USER_KEYS = {"id", "name", "domain_id", "enabled", "password_expires_at", "options", "links"}


def _user(cloud: Cloud, admin: dict, **kw: object) -> tuple[dict, str]:
    password = "pw-" + unique("secret")
    body = {"name": unique("user"), "password": password, **kw}
    r = cloud.client.post(f"{V3}/users", json={"user": body}, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()["user"], password


def _member_token(cloud: Cloud, admin: dict, user: dict, password: str) -> str:
    """Give `user` the member role on the demo project; return a demo-scoped token."""
    c = cloud.client
    demo = c.get(f"{V3}/projects?name=demo", headers=admin).json()["projects"][0]
    member = c.get(f"{V3}/roles?name=member", headers=admin).json()["roles"][0]
    assert (
        c.put(
            f"{V3}/projects/{demo['id']}/users/{user['id']}/roles/{member['id']}", headers=admin
        ).status_code
        == 204
    )
    return cloud.token(user["name"], password, "demo")


def _auth_status(cloud: Cloud, name: str, password: str) -> int:
    return cloud.client.post(
        f"{V3}/auth/tokens",
        json={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": name, "domain": {"id": "default"}, "password": password}
                    },
                }
            }
        },
    ).status_code


def test_create_shape_never_returns_password(cloud: Cloud, admin: dict) -> None:
    user, _ = _user(cloud, admin)
    assert set(user) == USER_KEYS
    assert user["password_expires_at"] is None and user["domain_id"] == "default"
    full, _ = _user(
        cloud, admin, email="a@example.org", description="d", default_project_id="abc", team="blue"
    )
    assert set(full) == USER_KEYS | {"email", "description", "default_project_id", "team"}
    got = cloud.client.get(f"{V3}/users/{full['id']}", headers=admin).json()["user"]
    assert got == full and "password" not in got


def test_list_matches_sample_and_filters(cloud: Cloud, admin: dict) -> None:
    user, _ = _user(cloud, admin)
    off, _ = _user(cloud, admin, enabled=False)
    c = cloud.client
    body = c.get(f"{V3}/users", headers=admin).json()
    if SAMPLE.exists():
        sample = json.loads(SAMPLE.read_text())["response_body"]
        assert set(body) == set(sample)
        mine = next(u for u in body["users"] if u["id"] == user["id"])
        assert set(mine) == set(sample["users"][0]) == USER_KEYS
    assert {"admin", "demo", user["name"]} <= {u["name"] for u in body["users"]}

    def names(query: str) -> set[str]:
        return {u["name"] for u in c.get(f"{V3}/users?{query}", headers=admin).json()["users"]}

    assert names(f"name={user['name']}") == {user["name"]}
    assert user["name"] in names("domain_id=default")
    assert names("domain_id=elsewhere") == set()
    assert off["name"] in names("enabled=false") and off["name"] not in names("enabled=true")


def test_errors(cloud: Cloud, admin: dict) -> None:
    user, _ = _user(cloud, admin)
    c = cloud.client
    r = c.post(f"{V3}/users", json={"user": {"name": user["name"]}}, headers=admin)
    assert r.status_code == 409 and user["name"] in r.json()["error"]["message"]
    assert c.post(f"{V3}/users", json={"user": {"name": 5}}, headers=admin).status_code == 400
    assert c.post(f"{V3}/users", json={"user": {}}, headers=admin).status_code == 400
    r = c.get(f"{V3}/users/nobody", headers=admin)
    assert r.status_code == 404 and r.json()["error"]["message"] == "Could not find user: nobody."


def test_member_sees_self_not_others(cloud: Cloud, admin: dict) -> None:
    user, password = _user(cloud, admin)
    h = cloud.headers(_member_token(cloud, admin, user, password))
    c = cloud.client
    assert c.get(f"{V3}/users", headers=h).status_code == 403
    r = c.get(f"{V3}/users/{user['id']}", headers=h)
    assert r.status_code == 200 and r.json()["user"]["name"] == user["name"]
    admin_id = c.get(f"{V3}/users?name=admin", headers=admin).json()["users"][0]["id"]
    assert c.get(f"{V3}/users/{admin_id}", headers=h).status_code == 403
    assert (
        c.patch(
            f"{V3}/users/{user['id']}", json={"user": {"enabled": False}}, headers=h
        ).status_code
        == 403
    )
    assert c.get(f"{V3}/users/{user['id']}/groups", headers=h).status_code == 200


def test_admin_password_reset_revokes_tokens(cloud: Cloud, admin: dict) -> None:
    user, password = _user(cloud, admin)
    token = _member_token(cloud, admin, user, password)
    c = cloud.client
    r = c.patch(f"{V3}/users/{user['id']}", json={"user": {"password": "brand-new"}}, headers=admin)
    assert r.status_code == 200 and "password" not in r.json()["user"]
    assert c.get(f"{V3}/auth/catalog", headers=cloud.headers(token)).status_code == 401
    assert _auth_status(cloud, user["name"], password) == 401
    assert _auth_status(cloud, user["name"], "brand-new") == 201


def test_disable_invalidates_tokens_and_login(cloud: Cloud, admin: dict) -> None:
    user, password = _user(cloud, admin)
    token = _member_token(cloud, admin, user, password)
    c = cloud.client
    assert c.get(f"{V3}/auth/catalog", headers=cloud.headers(token)).status_code == 200
    r = c.patch(f"{V3}/users/{user['id']}", json={"user": {"enabled": False}}, headers=admin)
    assert r.status_code == 200 and r.json()["user"]["enabled"] is False
    assert c.get(f"{V3}/auth/catalog", headers=cloud.headers(token)).status_code == 401
    assert _auth_status(cloud, user["name"], password) == 401
    c.patch(f"{V3}/users/{user['id']}", json={"user": {"enabled": True}}, headers=admin)
    assert _auth_status(cloud, user["name"], password) == 201


def test_self_service_password_change(cloud: Cloud, admin: dict) -> None:
    user, password = _user(cloud, admin)
    token = _member_token(cloud, admin, user, password)
    c, url = cloud.client, f"{V3}/users/{user['id']}/password"
    wrong = c.post(url, json={"user": {"original_password": "nope", "password": "x2"}})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == 401
    assert c.post(url, json={"user": {"password": "x2"}}).status_code == 400
    # No X-Auth-Token needed: the original password is the proof.
    r = c.post(url, json={"user": {"original_password": password, "password": "x2-new"}})
    assert r.status_code == 204 and r.content == b""
    assert _auth_status(cloud, user["name"], password) == 401
    assert _auth_status(cloud, user["name"], "x2-new") == 201
    assert c.get(f"{V3}/auth/catalog", headers=cloud.headers(token)).status_code == 401
    assert (
        c.post(
            f"{V3}/users/nobody/password",
            json={"user": {"original_password": "a", "password": "b"}},
        ).status_code
        == 401
    )


def test_delete_user(cloud: Cloud, admin: dict) -> None:
    user, password = _user(cloud, admin)
    token = _member_token(cloud, admin, user, password)
    c = cloud.client
    group = c.post(f"{V3}/groups", json={"group": {"name": unique("g")}}, headers=admin).json()[
        "group"
    ]
    assert c.put(f"{V3}/groups/{group['id']}/users/{user['id']}", headers=admin).status_code == 204
    groups = c.get(f"{V3}/users/{user['id']}/groups", headers=admin).json()
    assert [g["id"] for g in groups["groups"]] == [group["id"]]
    assert c.delete(f"{V3}/users/{user['id']}", headers=admin).status_code == 204
    assert c.get(f"{V3}/users/{user['id']}", headers=admin).status_code == 404
    assert c.delete(f"{V3}/users/{user['id']}", headers=admin).status_code == 404
    assert c.get(f"{V3}/auth/catalog", headers=cloud.headers(token)).status_code == 401
    assert c.get(f"{V3}/groups/{group['id']}/users", headers=admin).json()["users"] == []
    ra = c.get(f"{V3}/role_assignments?user.id={user['id']}", headers=admin).json()
    assert ra["role_assignments"] == []
