"""/v3/projects: shapes against Keystone's samples, filters, errors, hierarchy, tags,
policy for members, and what deleting or disabling a project does to tokens."""

from __future__ import annotations

import json
from pathlib import Path

from tests.identity.conftest import Cloud, unique

V3 = "/identity/v3"
SAMPLES = Path("/work/shared/api-samples/identity")
PROJECT_KEYS = {
    "id",
    "name",
    "domain_id",
    "description",
    "enabled",
    "parent_id",
    "is_domain",
    "tags",
    "options",
    "links",
}


def _sample(name: str) -> dict | None:
    path = SAMPLES / name
    return json.loads(path.read_text())["response_body"] if path.exists() else None


def _role_id(cloud: Cloud, admin: dict, name: str) -> str:
    roles = cloud.client.get(f"{V3}/roles?name={name}", headers=admin).json()["roles"]
    return roles[0]["id"]


def _project(cloud: Cloud, admin: dict, **kw: object) -> dict:
    body = {"name": unique("proj"), **kw}
    r = cloud.client.post(f"{V3}/projects", json={"project": body}, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()["project"]


def _member(cloud: Cloud, admin: dict) -> tuple[dict, dict, str]:
    """A new project, a new user with `member` on it, and that user's project token."""
    project = _project(cloud, admin)
    name, password = unique("user"), "secret-" + unique("pw")
    user = cloud.client.post(
        f"{V3}/users", json={"user": {"name": name, "password": password}}, headers=admin
    ).json()["user"]
    r = cloud.client.put(
        f"{V3}/projects/{project['id']}/users/{user['id']}/roles/"
        f"{_role_id(cloud, admin, 'member')}",
        headers=admin,
    )
    assert r.status_code == 204
    return project, user, cloud.token(name, password, project["name"])


def test_create_matches_keystone_sample(cloud: Cloud, admin: dict) -> None:
    r = cloud.client.post(
        f"{V3}/projects",
        headers=admin,
        json={
            "project": {
                "name": unique("sample"),
                "description": "api-samples test project",
                "domain_id": "default",
                "enabled": True,
            }
        },
    )
    assert r.status_code == 201
    p = r.json()["project"]
    sample = _sample("projects-create.json")
    keys = set(sample["project"]) if sample else PROJECT_KEYS
    assert set(p) == keys == PROJECT_KEYS
    assert p["parent_id"] == "default" and p["is_domain"] is False
    assert p["tags"] == [] and p["options"] == {}
    assert p["links"]["self"].endswith(f"/identity/v3/projects/{p['id']}")
    assert r.headers["Vary"] == "X-Auth-Token"


def test_get_and_list_envelope(cloud: Cloud, admin: dict) -> None:
    p = _project(cloud, admin, description="x")
    r = cloud.client.get(f"{V3}/projects/{p['id']}", headers=admin)
    assert r.status_code == 200 and r.json() == {"project": p}
    body = cloud.client.get(f"{V3}/projects", headers=admin).json()
    sample = _sample("projects-list.json")
    if sample:
        assert set(body) == set(sample) and set(body["links"]) == set(sample["links"])
    assert body["links"]["self"].endswith("/identity/v3/projects")
    assert body["links"]["next"] is None and body["links"]["previous"] is None
    assert {"admin", "demo", "service", p["name"]} <= {x["name"] for x in body["projects"]}
    assert all(set(x) == PROJECT_KEYS for x in body["projects"])


def test_unknown_project_is_keystone_404(cloud: Cloud, admin: dict) -> None:
    r = cloud.client.get(f"{V3}/projects/1cef39c016ab4d7cad9ec978d6938411", headers=admin)
    assert r.status_code == 404
    expected = _sample("error-404-unknown-project.json") or {
        "error": {
            "code": 404,
            "message": "Could not find project: 1cef39c016ab4d7cad9ec978d6938411.",
            "title": "Not Found",
        }
    }
    assert r.json() == expected


def test_filters(cloud: Cloud, admin: dict) -> None:
    a = _project(cloud, admin, tags=["red", "blue"])
    b = _project(cloud, admin, tags=["red"], enabled=False)
    c = cloud.client

    def names(query: str) -> set[str]:
        r = c.get(f"{V3}/projects?{query}", headers=admin)
        assert r.status_code == 200, r.text
        return {p["name"] for p in r.json()["projects"]}

    assert names(f"name={a['name']}") == {a["name"]}
    assert names("name=nothing-like-this") == set()
    assert {a["name"], b["name"]} <= names("domain_id=default")
    assert b["name"] in names("enabled=false") and b["name"] not in names("enabled=true")
    assert a["name"] in names("parent_id=default")
    assert {a["name"], b["name"]} <= names("tags=red")
    assert a["name"] in names("tags=red,blue") and b["name"] not in names("tags=red,blue")
    assert {a["name"], b["name"]} <= names("tags-any=blue,red")
    assert a["name"] not in names("not-tags-any=blue") and b["name"] in names("not-tags=blue")
    domains = c.get(f"{V3}/projects?is_domain=true", headers=admin).json()["projects"]
    assert any(d["id"] == "default" and d["is_domain"] for d in domains)


def test_extra_attributes_round_trip_and_update(cloud: Cloud, admin: dict) -> None:
    p = _project(cloud, admin, flavor_hint="big", description="before")
    assert p["flavor_hint"] == "big"
    r = cloud.client.patch(
        f"{V3}/projects/{p['id']}",
        headers=admin,
        json={"project": {"description": "after", "tags": ["t1"], "owner_team": "blue"}},
    )
    assert r.status_code == 200
    q = cloud.client.get(f"{V3}/projects/{p['id']}", headers=admin).json()["project"]
    assert (q["description"], q["tags"], q["flavor_hint"], q["owner_team"]) == (
        "after",
        ["t1"],
        "big",
        "blue",
    )


def test_errors(cloud: Cloud, admin: dict) -> None:
    p = _project(cloud, admin)
    c = cloud.client
    dup = c.post(f"{V3}/projects", json={"project": {"name": p["name"]}}, headers=admin)
    assert dup.status_code == 409 and dup.json()["error"]["title"] == "Conflict"
    assert (
        c.post(f"{V3}/projects", json={"project": {"enabled": True}}, headers=admin).status_code
        == 400
    )
    bad = c.post(
        f"{V3}/projects", json={"project": {"name": unique("p"), "enabled": "yes"}}, headers=admin
    )
    assert bad.status_code == 400 and "enabled" in bad.json()["error"]["message"]
    assert (
        c.post(
            f"{V3}/projects",
            json={"project": {"name": unique("p"), "domain_id": "nope"}},
            headers=admin,
        ).status_code
        == 404  # Keystone: DomainNotFound
    )
    assert (
        c.patch(
            f"{V3}/projects/{p['id']}", json={"project": {"domain_id": "other"}}, headers=admin
        ).status_code
        == 400
    )
    assert (
        c.patch(
            f"{V3}/projects/missing", json={"project": {"name": "x"}}, headers=admin
        ).status_code
        == 404
    )
    assert c.delete(f"{V3}/projects/missing", headers=admin).status_code == 404


def test_hierarchy(cloud: Cloud, admin: dict) -> None:
    parent = _project(cloud, admin)
    child = _project(cloud, admin, parent_id=parent["id"])
    assert child["parent_id"] == parent["id"] and child["domain_id"] == "default"
    c = cloud.client
    r = c.delete(f"{V3}/projects/{parent['id']}", headers=admin)
    assert r.status_code == 403 and "not a leaf" in r.json()["error"]["message"]
    r = c.patch(
        f"{V3}/projects/{parent['id']}", json={"project": {"enabled": False}}, headers=admin
    )
    assert r.status_code == 403
    assert (
        c.patch(
            f"{V3}/projects/{child['id']}",
            json={"project": {"parent_id": "default"}},
            headers=admin,
        ).status_code
        == 403
    )
    assert c.delete(f"{V3}/projects/{child['id']}", headers=admin).status_code == 204
    assert c.delete(f"{V3}/projects/{parent['id']}", headers=admin).status_code == 204
    assert c.get(f"{V3}/projects/{parent['id']}", headers=admin).status_code == 404


def test_tags_subresource(cloud: Cloud, admin: dict) -> None:
    p = _project(cloud, admin)
    base, c = f"{V3}/projects/{p['id']}/tags", cloud.client
    r = c.put(base, json={"tags": ["a", "b"]}, headers=admin)
    assert r.status_code == 200 and r.json()["tags"] == ["a", "b"]
    assert c.put(f"{base}/c", headers=admin).status_code == 201
    assert c.get(base, headers=admin).json()["tags"] == ["a", "b", "c"]
    assert c.get(f"{base}/c", headers=admin).status_code == 204
    assert c.head(f"{base}/c", headers=admin).status_code == 204
    assert c.get(f"{base}/zz", headers=admin).status_code == 404
    assert c.delete(f"{base}/a", headers=admin).status_code == 204
    assert c.put(base, json={"tags": ["bad,tag"]}, headers=admin).status_code == 400
    assert c.delete(base, headers=admin).status_code == 204
    assert c.get(f"{V3}/projects/{p['id']}", headers=admin).json()["project"]["tags"] == []


def test_member_reads_own_project_only(cloud: Cloud, admin: dict) -> None:
    mine, _user, token = _member(cloud, admin)
    other = _project(cloud, admin)
    h, c = cloud.headers(token), cloud.client
    r = c.get(f"{V3}/projects/{mine['id']}", headers=h)
    assert r.status_code == 200 and r.json()["project"]["name"] == mine["name"]
    r = c.get(f"{V3}/projects/{other['id']}", headers=h)
    assert r.status_code == 403 and r.json()["error"]["code"] == 403
    assert c.get(f"{V3}/projects/does-not-exist", headers=h).status_code == 403
    assert c.get(f"{V3}/projects", headers=h).status_code == 403
    assert (
        c.post(f"{V3}/projects", json={"project": {"name": unique("x")}}, headers=h).status_code
        == 403
    )
    assert (
        c.patch(
            f"{V3}/projects/{mine['id']}", json={"project": {"description": "x"}}, headers=h
        ).status_code
        == 403
    )


def test_user_projects(cloud: Cloud, admin: dict) -> None:
    mine, user, token = _member(cloud, admin)
    h, c = cloud.headers(token), cloud.client
    r = c.get(f"{V3}/users/{user['id']}/projects", headers=h)
    assert r.status_code == 200
    assert [p["id"] for p in r.json()["projects"]] == [mine["id"]]
    assert r.json()["links"]["self"].endswith(f"/users/{user['id']}/projects")
    demo = c.get(f"{V3}/users?name=demo", headers=admin).json()["users"][0]
    assert c.get(f"{V3}/users/{demo['id']}/projects", headers=h).status_code == 403


def test_disable_and_delete_revoke_project_tokens(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    project, user, token = _member(cloud, admin)
    h = cloud.headers(token)
    assert c.get(f"{V3}/projects/{project['id']}", headers=h).status_code == 200
    r = c.patch(
        f"{V3}/projects/{project['id']}", json={"project": {"enabled": False}}, headers=admin
    )
    assert r.status_code == 200 and r.json()["project"]["enabled"] is False
    assert c.get(f"{V3}/projects/{project['id']}", headers=h).status_code == 401
    assert (
        c.patch(
            f"{V3}/projects/{project['id']}", json={"project": {"enabled": True}}, headers=admin
        ).status_code
        == 200
    )
    token2 = cloud.token(user["name"], _password_of(cloud, admin, user), project["name"])
    assert c.delete(f"{V3}/projects/{project['id']}", headers=admin).status_code == 204
    assert c.get(f"{V3}/auth/catalog", headers=cloud.headers(token2)).status_code == 401
    ra = c.get(f"{V3}/role_assignments?scope.project.id={project['id']}", headers=admin)
    assert ra.json()["role_assignments"] == []


def _password_of(cloud: Cloud, admin: dict, user: dict) -> str:
    """Reset the user's password (admin) and return it."""
    password = "reset-" + unique("pw")
    r = cloud.client.patch(
        f"{V3}/users/{user['id']}", json={"user": {"password": password}}, headers=admin
    )
    assert r.status_code == 200
    return password
