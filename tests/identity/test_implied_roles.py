"""Implied roles: Keystone's bootstrap hierarchy, the inference rule API (shapes as
Tempest reads them, 404/403/409 cases), and rules taking effect in tokens and in the
effective role assignment list, transitively and through a cycle."""

from __future__ import annotations

from tests.identity.conftest import Cloud, unique

V3 = "/identity/v3"


def _role(cloud: Cloud, admin: dict, **kw: object) -> dict:
    r = cloud.client.post(f"{V3}/roles", json={"role": {"name": unique("ir"), **kw}}, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()["role"]


def _imply(cloud: Cloud, admin: dict, prior: str, implied: str, status: int = 201) -> dict:
    r = cloud.client.put(f"{V3}/roles/{prior}/implies/{implied}", headers=admin)
    assert r.status_code == status, r.text
    return r.json()


def test_bootstrap_matches_keystone(cloud: Cloud, admin: dict) -> None:
    r = cloud.client.get(f"{V3}/role_inferences", headers=admin)
    assert r.status_code == 200
    pairs = {
        (x["prior_role"]["name"], i["name"])
        for x in r.json()["role_inferences"]
        for i in x["implies"]
    }
    assert {("admin", "manager"), ("manager", "member"), ("member", "reader")} <= pairs
    assert ("admin", "member") not in pairs


def test_rule_crud_and_shapes(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    a, b, d = (_role(cloud, admin) for _ in range(3))
    body = _imply(cloud, admin, a["id"], b["id"])
    inf = body["role_inference"]
    for key in ("prior_role", "implies"):
        assert set(inf[key]) == {"id", "links", "name"}
    assert inf["prior_role"]["id"] == a["id"] and inf["implies"]["name"] == b["name"]
    assert body["links"]["self"].endswith(f"/v3/roles/{a['id']}/implies/{b['id']}")
    url = f"{V3}/roles/{a['id']}/implies/{b['id']}"
    assert c.get(url, headers=admin).json() == body
    head = c.head(url, headers=admin)
    assert head.status_code == 204 and head.content == b""
    _imply(cloud, admin, a["id"], d["id"])
    listed = c.get(f"{V3}/roles/{a['id']}/implies", headers=admin).json()["role_inference"]
    assert {x["id"] for x in listed["implies"]} == {b["id"], d["id"]}
    everything = c.get(f"{V3}/role_inferences", headers=admin).json()["role_inferences"]
    mine = next(x for x in everything if x["prior_role"]["id"] == a["id"])
    assert {x["id"] for x in mine["implies"]} == {b["id"], d["id"]}
    assert _imply(cloud, admin, a["id"], b["id"], 409)["error"]["code"] == 409
    assert c.delete(url, headers=admin).status_code == 204
    assert c.get(url, headers=admin).status_code == 404
    assert c.head(url, headers=admin).status_code == 404
    assert c.delete(url, headers=admin).status_code == 404
    assert c.put(f"{V3}/roles/{a['id']}/implies/nope", headers=admin).status_code == 404


def test_forbidden_rules(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    roles = {r["name"]: r["id"] for r in c.get(f"{V3}/roles", headers=admin).json()["roles"]}
    mine = _role(cloud, admin)
    assert _imply(cloud, admin, mine["id"], roles["admin"], 403)["error"]["code"] == 403
    local = _role(cloud, admin, domain_id="default")
    msg = _imply(cloud, admin, mine["id"], local["id"], 403)["error"]["message"]
    assert "domain-specific" in msg
    _imply(cloud, admin, local["id"], mine["id"])  # a domain role may imply a global one
    demo = cloud.headers(cloud.token("demo", project="demo"))
    other = _role(cloud, admin)
    assert c.put(f"{V3}/roles/{mine['id']}/implies/{other['id']}", headers=demo).status_code == 403
    assert c.get(f"{V3}/role_inferences", headers=demo).status_code == 403
    # Deleting a role removes the rules that name it.
    _imply(cloud, admin, mine["id"], other["id"])
    c.delete(f"{V3}/roles/{other['id']}", headers=admin)
    left = c.get(f"{V3}/roles/{mine['id']}/implies", headers=admin).json()["role_inference"]
    assert left["implies"] == []


def test_rules_apply_to_tokens_and_effective_assignments(cloud: Cloud, admin: dict) -> None:
    c, password = cloud.client, "pw-" + unique("s")
    a, b, d = (_role(cloud, admin) for _ in range(3))
    user = c.post(
        f"{V3}/users", json={"user": {"name": unique("iu"), "password": password}}, headers=admin
    ).json()["user"]
    project = c.post(
        f"{V3}/projects", json={"project": {"name": unique("ip")}}, headers=admin
    ).json()["project"]
    c.put(f"{V3}/projects/{project['id']}/users/{user['id']}/roles/{a['id']}", headers=admin)
    token = cloud.token(user["name"], password, project["name"])
    h = {"X-Auth-Token": token, "X-Subject-Token": token}

    def token_roles() -> set[str]:
        return {r["id"] for r in c.get(f"{V3}/auth/tokens", headers=h).json()["token"]["roles"]}

    assert token_roles() == {a["id"]}
    _imply(cloud, admin, a["id"], b["id"])
    _imply(cloud, admin, b["id"], d["id"])
    assert token_roles() == {a["id"], b["id"], d["id"]}  # transitively, on a live token
    _imply(cloud, admin, d["id"], a["id"])  # a cycle, as Keystone allows
    assert token_roles() == {a["id"], b["id"], d["id"]}
    q = f"user.id={user['id']}&effective&include_names"
    eff = c.get(f"{V3}/role_assignments?{q}", headers=admin).json()["role_assignments"]
    assert {x["role"]["name"] for x in eff} == {a["name"], b["name"], d["name"]}
    via_b = next(x for x in eff if x["role"]["id"] == d["id"])
    assert via_b["links"]["prior_role"].endswith(f"/v3/prior_role/{d['id']}/implies/{b['id']}")
    c.delete(f"{V3}/roles/{a['id']}/implies/{b['id']}", headers=admin)
    assert token_roles() == {a["id"]}
