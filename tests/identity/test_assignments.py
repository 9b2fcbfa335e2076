"""GET /v3/role_assignments: Keystone's entry shape and links, the filters, effective
expansion (groups, inheritance, implied roles), include_names, and policy."""

from __future__ import annotations

from tests.identity.conftest import Cloud, unique

V3 = "/identity/v3"
RA = f"{V3}/role_assignments"


def _setup(cloud: Cloud, admin: dict) -> dict:
    """A user, a group holding the user, a project, and the role ids."""
    c = cloud.client
    user = c.post(
        f"{V3}/users", json={"user": {"name": unique("au"), "password": "pw"}}, headers=admin
    ).json()["user"]
    group = c.post(f"{V3}/groups", json={"group": {"name": unique("ag")}}, headers=admin).json()[
        "group"
    ]
    project = c.post(
        f"{V3}/projects", json={"project": {"name": unique("ap")}}, headers=admin
    ).json()["project"]
    c.put(f"{V3}/groups/{group['id']}/users/{user['id']}", headers=admin)
    roles = {r["name"]: r["id"] for r in c.get(f"{V3}/roles", headers=admin).json()["roles"]}
    return {"user": user, "group": group, "project": project, "roles": roles}


def _list(cloud: Cloud, admin: dict, query: str) -> list[dict]:
    r = cloud.client.get(f"{RA}?{query}", headers=admin)
    assert r.status_code == 200, r.text
    assert set(r.json()["links"]) == {"self", "next", "previous"}
    return r.json()["role_assignments"]


def test_direct_assignment_shape(cloud: Cloud, admin: dict) -> None:
    s = _setup(cloud, admin)
    u, p, member = s["user"]["id"], s["project"]["id"], s["roles"]["member"]
    cloud.client.put(f"{V3}/projects/{p}/users/{u}/roles/{member}", headers=admin)
    got = _list(cloud, admin, f"user.id={u}")
    assert got == [
        {
            "links": {
                "assignment": f"http://127.0.0.1:18080/identity/v3/projects/{p}/users/{u}"
                f"/roles/{member}"
            },
            "scope": {"project": {"id": p}},
            "user": {"id": u},
            "role": {"id": member},
        }
    ]
    assert _list(cloud, admin, f"scope.project.id={p}&role.id={member}") == got
    assert _list(cloud, admin, f"scope.project.id={p}&role.id={s['roles']['admin']}") == []


def test_filters_by_group_domain_system_and_inheritance(cloud: Cloud, admin: dict) -> None:
    s = _setup(cloud, admin)
    c, g, u = cloud.client, s["group"]["id"], s["user"]["id"]
    reader = s["roles"]["reader"]
    c.put(f"{V3}/domains/default/groups/{g}/roles/{reader}", headers=admin)
    c.put(
        f"{V3}/OS-INHERIT/domains/default/users/{u}/roles/{reader}/inherited_to_projects",
        headers=admin,
    )
    c.put(f"{V3}/system/users/{u}/roles/{reader}", headers=admin)
    by_group = _list(cloud, admin, f"group.id={g}")
    assert [(x["group"], x["scope"]) for x in by_group] == [
        ({"id": g}, {"domain": {"id": "default"}})
    ]
    mine = _list(cloud, admin, f"user.id={u}")
    scopes = [x["scope"] for x in mine]
    assert {"system": {"all": True}} in scopes
    inherited = [x for x in mine if "OS-INHERIT:inherited_to" in x["scope"]]
    assert len(inherited) == 1 and inherited[0]["scope"]["domain"] == {"id": "default"}
    assert inherited[0]["links"]["assignment"].endswith(
        f"/v3/OS-INHERIT/domains/default/users/{u}/roles/{reader}/inherited_to_projects"
    )
    assert _list(cloud, admin, f"user.id={u}&scope.OS-INHERIT:inherited_to=projects") == inherited
    system = _list(cloud, admin, f"user.id={u}&scope.system=all")
    assert [x["scope"] for x in system] == [{"system": {"all": True}}]
    assert system[0]["links"]["assignment"].endswith(f"/v3/system/users/{u}/roles/{reader}")
    dom = _list(cloud, admin, "scope.domain.id=default")
    assert any(x.get("group") == {"id": g} for x in dom)
    c.delete(
        f"{V3}/OS-INHERIT/domains/default/users/{u}/roles/{reader}/inherited_to_projects",
        headers=admin,
    )
    c.delete(f"{V3}/system/users/{u}/roles/{reader}", headers=admin)
    c.delete(f"{V3}/domains/default/groups/{g}/roles/{reader}", headers=admin)


def test_effective_expands_groups_inheritance_and_implied(cloud: Cloud, admin: dict) -> None:
    s = _setup(cloud, admin)
    c, g, u, p = cloud.client, s["group"]["id"], s["user"]["id"], s["project"]["id"]
    roles = s["roles"]
    c.put(f"{V3}/projects/{p}/groups/{g}/roles/{roles['member']}", headers=admin)
    eff = _list(cloud, admin, f"user.id={u}&effective")
    assert {(x["role"]["id"], x["scope"]["project"]["id"]) for x in eff} == {
        (roles["member"], p),
        (roles["reader"], p),
    }
    via_group = next(x for x in eff if x["role"]["id"] == roles["member"])
    assert via_group["user"] == {"id": u}
    assert via_group["links"]["membership"].endswith(f"/v3/groups/{g}/users/{u}")
    assert via_group["links"]["assignment"].endswith(
        f"/v3/projects/{p}/groups/{g}/roles/{roles['member']}"
    )
    implied = next(x for x in eff if x["role"]["id"] == roles["reader"])
    assert "prior_role" in implied["links"]
    # Without `effective`, the user has no direct assignment at all.
    assert _list(cloud, admin, f"user.id={u}") == []
    # Inherited grant on a parent project reaches the child, effectively.
    child = c.post(
        f"{V3}/projects", json={"project": {"name": unique("child"), "parent_id": p}}, headers=admin
    ).json()["project"]
    c.put(
        f"{V3}/OS-INHERIT/projects/{p}/users/{u}/roles/{roles['admin']}/inherited_to_projects",
        headers=admin,
    )
    on_child = _list(cloud, admin, f"user.id={u}&effective&scope.project.id={child['id']}")
    # Keystone's hierarchy: admin implies manager implies member implies reader.
    assert {x["role"]["id"] for x in on_child} == {
        roles["admin"],
        roles["manager"],
        roles["member"],
        roles["reader"],
    }
    assert all(x["scope"]["project"]["id"] == child["id"] for x in on_child)
    assert on_child[0]["scope"]["OS-INHERIT:inherited_to"] == "projects"
    assert (
        _list(cloud, admin, f"user.id={u}&effective&role.id={roles['admin']}&scope.project.id={p}")
        == []
    )


def test_include_names(cloud: Cloud, admin: dict) -> None:
    s = _setup(cloud, admin)
    u, p, member = s["user"], s["project"], s["roles"]["member"]
    cloud.client.put(f"{V3}/projects/{p['id']}/users/{u['id']}/roles/{member}", headers=admin)
    [got] = _list(cloud, admin, f"user.id={u['id']}&include_names")
    default = {"id": "default", "name": "Default"}
    assert got["user"] == {"id": u["id"], "name": u["name"], "domain": default}
    assert got["scope"]["project"] == {"id": p["id"], "name": p["name"], "domain": default}
    assert got["role"] == {"id": member, "name": "member"}


def test_bad_combinations_and_policy(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    for q in (
        "user.id=a&group.id=b",
        "scope.project.id=a&scope.domain.id=b",
        "effective&group.id=a",
        "scope.system=all&scope.project.id=a",
        "include_subtree=true",
    ):
        r = c.get(f"{RA}?{q}", headers=admin)
        assert r.status_code == 400, q
        assert r.json()["error"]["title"] == "Bad Request"
    h = cloud.headers(cloud.token("demo", project="demo"))
    assert c.get(RA, headers=h).status_code == 403


def test_include_subtree(cloud: Cloud, admin: dict) -> None:
    s = _setup(cloud, admin)
    c, u, p = cloud.client, s["user"]["id"], s["project"]["id"]
    child = c.post(
        f"{V3}/projects", json={"project": {"name": unique("sub"), "parent_id": p}}, headers=admin
    ).json()["project"]
    c.put(f"{V3}/projects/{child['id']}/users/{u}/roles/{s['roles']['reader']}", headers=admin)
    assert _list(cloud, admin, f"scope.project.id={p}") == []
    sub = _list(cloud, admin, f"scope.project.id={p}&include_subtree=true")
    assert [x["scope"]["project"]["id"] for x in sub] == [child["id"]]
