"""POST/GET/HEAD/DELETE /v3/auth/tokens and the /v3/auth/* listings."""

from __future__ import annotations

import datetime as dt

from tests.identity.conftest import Cloud

AUTH = "/identity/v3/auth/tokens"


def _pw_body(user: str, password: str, scope: dict | None = None) -> dict:
    body: dict = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"name": "Default"}, "password": password}
                },
            }
        }
    }
    if scope is not None:
        body["auth"]["scope"] = scope
    return body


def test_project_scoped_token_has_keystone_shape(cloud: Cloud) -> None:
    r = cloud.client.post(
        AUTH,
        json=_pw_body(
            "admin",
            cloud.admin_password,
            {"project": {"name": "admin", "domain": {"name": "Default"}}},
        ),
    )
    assert r.status_code == 201
    assert r.headers["X-Subject-Token"]
    assert r.headers["x-openstack-request-id"].startswith("req-")
    tok = r.json()["token"]
    assert tok["methods"] == ["password"]
    assert tok["user"]["name"] == "admin" and tok["user"]["domain"]["id"] == "default"
    assert tok["project"]["name"] == "admin"
    assert {"admin", "member", "reader"} <= {x["name"] for x in tok["roles"]}
    issued = dt.datetime.strptime(tok["issued_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    expires = dt.datetime.strptime(tok["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert dt.timedelta(minutes=59) < expires - issued <= dt.timedelta(hours=1)
    types = {s["type"]: s for s in tok["catalog"]}
    assert {"identity", "compute", "image", "network", "block-storage"} <= set(types)
    ep = types["identity"]["endpoints"][0]
    assert ep["url"].endswith("/identity") and ep["region"] == ep["region_id"] == "RegionOne"


def test_wrong_password_is_401_keystone_body(cloud: Cloud) -> None:
    r = cloud.client.post(AUTH, json=_pw_body("admin", "nope"))
    assert r.status_code == 401
    assert r.json() == {
        "error": {
            "code": 401,
            "title": "Unauthorized",
            "message": "The request you have made requires authentication.",
        }
    }


def test_unknown_user_is_401(cloud: Cloud) -> None:
    assert cloud.client.post(AUTH, json=_pw_body("ghost", "x")).status_code == 401


def test_malformed_json_is_400(cloud: Cloud) -> None:
    r = cloud.client.post(AUTH, content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == 400


def test_wrong_types_are_400(cloud: Cloud) -> None:
    r = cloud.client.post(AUTH, json={"auth": {"identity": {"methods": "password"}}})
    assert r.status_code == 400
    assert "methods" in r.json()["error"]["message"]


def test_oversized_body_is_413(cloud: Cloud) -> None:
    r = cloud.client.post(
        AUTH, content=b"{" + b" " * 200_000 + b"}", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413


def test_no_token_is_401(cloud: Cloud) -> None:
    r = cloud.client.get("/identity/v3/auth/catalog")
    assert r.status_code == 401
    assert r.json()["error"]["title"] == "Unauthorized"


def test_garbage_token_is_401(cloud: Cloud) -> None:
    r = cloud.client.get("/identity/v3/auth/catalog", headers={"X-Auth-Token": "garbage"})
    assert r.status_code == 401


def test_validate_equals_issue_body_and_revoke(cloud: Cloud) -> None:
    r = cloud.client.post(
        AUTH,
        json=_pw_body(
            "demo",
            cloud.demo_password,
            {"project": {"name": "demo", "domain": {"name": "Default"}}},
        ),
    )
    assert r.status_code == 201
    token = r.headers["X-Subject-Token"]
    h = {"X-Auth-Token": token, "X-Subject-Token": token}
    v = cloud.client.get(AUTH, headers=h)
    assert v.status_code == 200
    assert v.headers["X-Subject-Token"] == token
    assert v.json() == r.json()
    assert cloud.client.head(AUTH, headers=h).status_code == 200
    assert (
        cloud.client.delete(
            AUTH, headers={"X-Auth-Token": cloud.token(), "X-Subject-Token": token}
        ).status_code
        == 204
    )
    assert (
        cloud.client.get(
            AUTH, headers={"X-Auth-Token": cloud.token(), "X-Subject-Token": token}
        ).status_code
        == 404
    )
    # The revoked token no longer authenticates.
    assert (
        cloud.client.get("/identity/v3/auth/catalog", headers={"X-Auth-Token": token}).status_code
        == 401
    )


def test_user_cannot_validate_someone_elses_token(cloud: Cloud) -> None:
    demo = cloud.token("demo", project="demo")
    admin = cloud.token()
    r = cloud.client.get(AUTH, headers={"X-Auth-Token": demo, "X-Subject-Token": admin})
    assert r.status_code == 403


def test_unscoped_token_falls_back_to_default_project(cloud: Cloud) -> None:
    r = cloud.client.post(AUTH, json=_pw_body("demo", cloud.demo_password))
    assert r.status_code == 201
    assert r.json()["token"]["project"]["name"] == "demo"


def test_explicitly_unscoped_and_domain_and_system_scopes(cloud: Cloud) -> None:
    r = cloud.client.post(AUTH, json=_pw_body("admin", cloud.admin_password, "unscoped"))
    assert r.status_code == 201
    assert "project" not in r.json()["token"] and "catalog" not in r.json()["token"]
    r = cloud.client.post(
        AUTH, json=_pw_body("admin", cloud.admin_password, {"system": {"all": True}})
    )
    assert r.status_code == 201 and r.json()["token"]["system"] == {"all": True}
    r = cloud.client.post(
        AUTH, json=_pw_body("demo", cloud.demo_password, {"system": {"all": True}})
    )
    assert r.status_code == 401
    r = cloud.client.post(
        AUTH, json=_pw_body("admin", cloud.admin_password, {"domain": {"name": "Default"}})
    )
    assert r.status_code == 401  # no role on the domain itself


def test_scope_to_project_without_role_is_401(cloud: Cloud) -> None:
    r = cloud.client.post(
        AUTH,
        json=_pw_body(
            "demo",
            cloud.demo_password,
            {"project": {"name": "admin", "domain": {"name": "Default"}}},
        ),
    )
    assert r.status_code == 401


def test_rescope_with_token_method(cloud: Cloud) -> None:
    r = cloud.client.post(AUTH, json=_pw_body("admin", cloud.admin_password, "unscoped"))
    unscoped = r.headers["X-Subject-Token"]
    r = cloud.client.post(
        AUTH,
        json={
            "auth": {
                "identity": {"methods": ["token"], "token": {"id": unscoped}},
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
            }
        },
    )
    assert r.status_code == 201
    assert r.json()["token"]["methods"] == ["password", "token"]


def test_nocatalog(cloud: Cloud) -> None:
    r = cloud.client.post(AUTH + "?nocatalog", json=_pw_body("admin", cloud.admin_password))
    assert r.status_code == 201 and "catalog" not in r.json()["token"]


def test_auth_catalog_and_projects(cloud: Cloud) -> None:
    h = cloud.headers(cloud.token("demo", project="demo"))
    cat = cloud.client.get("/identity/v3/auth/catalog", headers=h)
    assert cat.status_code == 200
    assert any(s["type"] == "compute" for s in cat.json()["catalog"])
    projects = cloud.client.get("/identity/v3/auth/projects", headers=h).json()["projects"]
    assert [p["name"] for p in projects] == ["demo"]


def test_version_documents(cloud: Cloud) -> None:
    r = cloud.client.get("/identity/")
    assert r.status_code == 300
    v = r.json()["versions"]["values"][0]
    assert v["status"] == "stable" and v["links"][0]["href"].endswith("/identity/v3/")
    r = cloud.client.get("/identity/v3")
    assert r.status_code == 200 and r.json()["version"]["id"] == "v3.14"
