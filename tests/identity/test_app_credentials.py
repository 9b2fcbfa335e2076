"""Application credentials: the secret shown once, authentication by id and by name,
the token they give (project, roles, methods, `application_credential`), expiry,
role subsets, restricted credentials, role loss and user deletion, and access rules
(their API and their enforcement on identity, compute and image calls)."""

from __future__ import annotations

import datetime as dt
import time

from tests.identity.conftest import Cloud, unique

V3 = "/identity/v3"


def _role_ids(cloud: Cloud, admin: dict) -> dict[str, str]:
    roles = cloud.client.get(f"{V3}/roles", headers=admin).json()["roles"]
    return {r["name"]: r["id"] for r in roles}


def _member(cloud: Cloud, admin: dict, *role_names: str) -> dict:
    """A new user holding the given roles on a new project, with a token there."""
    c, password = cloud.client, "pw-" + unique("s")
    user = c.post(
        f"{V3}/users", json={"user": {"name": unique("acu"), "password": password}}, headers=admin
    ).json()["user"]
    project = c.post(
        f"{V3}/projects", json={"project": {"name": unique("acp")}}, headers=admin
    ).json()["project"]
    ids = _role_ids(cloud, admin)
    for name in role_names or ("member",):
        c.put(f"{V3}/projects/{project['id']}/users/{user['id']}/roles/{ids[name]}", headers=admin)
    token = cloud.token(user["name"], password, project["name"])
    return {"user": user, "project": project, "h": {"X-Auth-Token": token}, "roles": ids}


def _create(cloud: Cloud, m: dict, status: int = 201, **fields: object) -> dict:
    body = {"application_credential": {"name": unique("ac"), **fields}}
    r = cloud.client.post(
        f"{V3}/users/{m['user']['id']}/application_credentials", json=body, headers=m["h"]
    )
    assert r.status_code == status, r.text
    return r.json().get("application_credential") or r.json()


def _auth(cloud: Cloud, cred_ref: dict, scope: object = None) -> tuple[int, dict, str]:
    body: dict = {
        "auth": {
            "identity": {"methods": ["application_credential"], "application_credential": cred_ref}
        }
    }
    if scope is not None:
        body["auth"]["scope"] = scope
    r = cloud.client.post(f"{V3}/auth/tokens", json=body)
    return r.status_code, r.json(), r.headers.get("X-Subject-Token", "")


def test_create_show_list_and_authenticate(cloud: Cloud, admin: dict) -> None:
    c, m = cloud.client, _member(cloud, admin)
    uid = m["user"]["id"]
    cred = _create(cloud, m, description="for ci")
    assert len(cred["secret"]) >= 64 and cred["unrestricted"] is False
    assert cred["project_id"] == m["project"]["id"] and cred["expires_at"] is None
    assert {r["name"] for r in cred["roles"]} == {"member", "reader"}
    assert cred["links"]["self"].endswith(f"/v3/users/{uid}/application_credentials/{cred['id']}")
    shown = c.get(f"{V3}/users/{uid}/application_credentials/{cred['id']}", headers=m["h"]).json()
    assert "secret" not in shown["application_credential"]
    other = _create(cloud, m)
    listed = c.get(f"{V3}/users/{uid}/application_credentials", headers=m["h"]).json()
    assert {x["id"] for x in listed["application_credentials"]} == {cred["id"], other["id"]}
    by_name = c.get(
        f"{V3}/users/{uid}/application_credentials?name={other['name']}", headers=m["h"]
    ).json()["application_credentials"]
    assert [x["id"] for x in by_name] == [other["id"]]
    # By id, then by name with the user given by name and domain.
    status, body, token = _auth(cloud, {"id": cred["id"], "secret": cred["secret"]})
    assert status == 201, body
    tok = body["token"]
    assert tok["methods"] == ["application_credential"]
    assert tok["project"]["id"] == m["project"]["id"]
    assert tok["application_credential"] == {
        "id": cred["id"],
        "name": cred["name"],
        "restricted": True,
    }
    assert {r["name"] for r in tok["roles"]} == {"member", "reader"}
    h = {"X-Auth-Token": token, "X-Subject-Token": token}
    assert c.get(f"{V3}/auth/tokens", headers=h).json() == body
    ref = {
        "name": cred["name"],
        "secret": cred["secret"],
        "user": {"name": m["user"]["name"], "domain": {"name": "Default"}},
    }
    assert _auth(cloud, ref)[0] == 201
    assert _auth(cloud, {**ref, "secret": "wrong"})[0] == 401
    assert _auth(cloud, {"id": "nope", "secret": "x"})[0] == 401


def test_given_secret_duplicate_name_and_scope_refused(cloud: Cloud, admin: dict) -> None:
    m = _member(cloud, admin)
    cred = _create(cloud, m, secret="my-own-secret")
    assert cred["secret"] == "my-own-secret"
    assert _create(cloud, m, status=409, name=cred["name"])["error"]["code"] == 409
    scope = {"project": {"id": m["project"]["id"]}}
    assert _auth(cloud, {"id": cred["id"], "secret": "my-own-secret"}, scope)[0] == 401
    other = _member(cloud, admin)
    r = cloud.client.post(
        f"{V3}/users/{other['user']['id']}/application_credentials",
        json={"application_credential": {"name": "x"}},
        headers=m["h"],
    )
    assert r.status_code == 403


def test_expiry_echoed_past_refused_and_expired_cred_fails(cloud: Cloud, admin: dict) -> None:
    m = _member(cloud, admin)
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=1)
    cred = _create(cloud, m, expires_at=later.isoformat())
    assert cred["expires_at"] == later.strftime("%Y-%m-%dT%H:%M:%S.%f")
    _, body, _ = _auth(cloud, {"id": cred["id"], "secret": cred["secret"]})
    assert body["token"]["expires_at"] <= later.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    assert _create(cloud, m, status=400, expires_at=past)["error"]["code"] == 400
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)
    short = _create(cloud, m, expires_at=soon.isoformat())
    time.sleep(2)
    assert _auth(cloud, {"id": short["id"], "secret": short["secret"]})[0] == 401


def test_roles_subset_by_id_or_name(cloud: Cloud, admin: dict) -> None:
    m = _member(cloud, admin, "member", "service")
    ids = m["roles"]
    cred = _create(cloud, m, roles=[{"name": "member"}])
    assert {r["name"] for r in cred["roles"]} == {"member", "reader"}  # reader is implied
    status, body, _ = _auth(cloud, {"id": cred["id"], "secret": cred["secret"]})
    assert status == 201
    assert {r["name"] for r in body["token"]["roles"]} == {"member", "reader"}
    only = _create(cloud, m, roles=[{"id": ids["service"]}])
    _, body, _ = _auth(cloud, {"id": only["id"], "secret": only["secret"]})
    assert [r["id"] for r in body["token"]["roles"]] == [ids["service"]]
    lacking = _create(cloud, m, status=400, roles=[{"id": ids["admin"]}])
    assert "unassigned role" in lacking["error"]["message"]
    assert _create(cloud, m, status=404, roles=[{"name": unique("nosuch")}])["error"]["code"] == 404


def test_restricted_cred_cannot_manage_creds(cloud: Cloud, admin: dict) -> None:
    c, m = cloud.client, _member(cloud, admin)
    uid = m["user"]["id"]
    restricted = _create(cloud, m)
    free = _create(cloud, m, unrestricted=True)
    _, _, rtoken = _auth(cloud, {"id": restricted["id"], "secret": restricted["secret"]})
    rh = {"X-Auth-Token": rtoken}
    url = f"{V3}/users/{uid}/application_credentials"
    assert (
        c.post(url, json={"application_credential": {"name": "x"}}, headers=rh).status_code == 403
    )
    assert c.delete(f"{url}/{free['id']}", headers=rh).status_code == 403
    assert c.get(url, headers=rh).status_code == 200  # reading is fine
    _, _, ftoken = _auth(cloud, {"id": free["id"], "secret": free["secret"]})
    fh = {"X-Auth-Token": ftoken}
    assert (
        c.post(url, json={"application_credential": {"name": "y"}}, headers=fh).status_code == 201
    )
    # Deleting a credential invalidates its live tokens.
    assert c.delete(f"{url}/{restricted['id']}", headers=fh).status_code == 204
    assert c.get(url, headers=rh).status_code == 401


def test_rescoping_a_cred_token(cloud: Cloud, admin: dict) -> None:
    m = _member(cloud, admin)
    cred = _create(cloud, m)
    _, _, token = _auth(cloud, {"id": cred["id"], "secret": cred["secret"]})
    body: dict = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}}}
    r = cloud.client.post(f"{V3}/auth/tokens", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["token"]["application_credential"]["id"] == cred["id"]
    assert r.json()["token"]["project"]["id"] == m["project"]["id"]
    body["auth"]["scope"] = {"project": {"id": m["project"]["id"]}}
    assert cloud.client.post(f"{V3}/auth/tokens", json=body).status_code == 403


def test_losing_roles_or_the_user_ends_the_cred(cloud: Cloud, admin: dict) -> None:
    c, m = cloud.client, _member(cloud, admin)
    uid, pid = m["user"]["id"], m["project"]["id"]
    cred = _create(cloud, m)
    _, _, token = _auth(cloud, {"id": cred["id"], "secret": cred["secret"]})
    h = {"X-Auth-Token": token, "X-Subject-Token": token}
    assert c.get(f"{V3}/auth/tokens", headers=h).status_code == 200
    c.delete(f"{V3}/projects/{pid}/users/{uid}/roles/{m['roles']['member']}", headers=admin)
    assert c.get(f"{V3}/auth/tokens", headers={**h, **admin}).status_code == 404
    assert _auth(cloud, {"id": cred["id"], "secret": cred["secret"]})[0] == 401
    c.put(f"{V3}/projects/{pid}/users/{uid}/roles/{m['roles']['member']}", headers=admin)
    assert _auth(cloud, {"id": cred["id"], "secret": cred["secret"]})[0] == 201
    assert c.delete(f"{V3}/users/{uid}", headers=admin).status_code == 204
    assert _auth(cloud, {"id": cred["id"], "secret": cred["secret"]})[0] == 401
    assert (
        c.get(f"{V3}/users/{uid}/application_credentials", headers=admin).json()[
            "application_credentials"
        ]
        == []
    )


def test_access_rules_api(cloud: Cloud, admin: dict) -> None:
    c, m = cloud.client, _member(cloud, admin)
    uid = m["user"]["id"]
    rule = {"path": "/v2.1/servers/*/ips", "method": "GET", "service": "compute"}
    cred = _create(cloud, m, access_rules=[rule])
    got = dict(cred["access_rules"][0])
    rid = got.pop("id")
    assert got == rule
    # The same rule by id (or content) is shared, not duplicated.
    again = _create(cloud, m, access_rules=[{"id": rid}])
    assert again["access_rules"][0]["id"] == rid
    listed = c.get(f"{V3}/users/{uid}/access_rules", headers=m["h"]).json()["access_rules"]
    assert [r["id"] for r in listed] == [rid]
    shown = c.get(f"{V3}/users/{uid}/access_rules/{rid}", headers=m["h"])
    assert shown.status_code == 200 and shown.json()["access_rule"]["path"] == rule["path"]
    assert c.get(f"{V3}/users/{uid}/access_rules/nope", headers=m["h"]).status_code == 404
    assert c.delete(f"{V3}/users/{uid}/access_rules/{rid}", headers=m["h"]).status_code == 403
    for x in (cred, again):
        c.delete(f"{V3}/users/{uid}/application_credentials/{x['id']}", headers=m["h"])
    assert c.delete(f"{V3}/users/{uid}/access_rules/{rid}", headers=m["h"]).status_code == 204
    assert c.get(f"{V3}/users/{uid}/access_rules", headers=m["h"]).json()["access_rules"] == []


def test_access_rules_are_enforced_on_every_service(cloud: Cloud, admin: dict) -> None:
    c, m = cloud.client, _member(cloud, admin)
    uid = m["user"]["id"]
    rules = [
        {"service": "identity", "method": "GET", "path": "/v3/users/*/application_credentials"},
        {"service": "compute", "method": "GET", "path": "/v2.1/flavors/**"},
        {"service": "image", "method": "GET", "path": "/v2/images"},
    ]
    cred = _create(cloud, m, access_rules=rules)
    status, body, token = _auth(cloud, {"id": cred["id"], "secret": cred["secret"]})
    assert status == 201
    assert {r["service"] for r in body["token"]["application_credential"]["access_rules"]} == {
        "identity",
        "compute",
        "image",
    }
    h = {"X-Auth-Token": token}
    assert c.get(f"{V3}/users/{uid}/application_credentials", headers=h).status_code == 200
    assert c.get(f"{V3}/users/{uid}", headers=h).status_code == 401
    assert c.get(f"{V3}/auth/tokens", headers={**h, "X-Subject-Token": token}).status_code == 200
    assert c.get("/compute/v2.1/flavors/detail", headers=h).status_code == 200
    assert c.get("/compute/v2.1/servers", headers=h).status_code == 401
    assert c.get("/image/v2/images", headers=h).status_code == 200
    assert c.get("/image/v2/schemas/image", headers=h).status_code == 401
    refused = c.post("/compute/v2.1/flavors", json={}, headers=h)
    assert refused.status_code == 401 and "unauthorized" in refused.json()
