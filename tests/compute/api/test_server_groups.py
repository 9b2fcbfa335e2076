"""os-server-groups: shapes by microversion, validation, ownership, listing."""

from __future__ import annotations

from tests.compute.api.conftest import call, unique


def _create(cloud, who, version=None, **group):  # type: ignore[no-untyped-def]
    return call(cloud, "POST", "/os-server-groups", who, version, json={"server_group": group})


def test_create_show_delete_legacy_shape(cloud, demo) -> None:  # type: ignore[no-untyped-def]
    name = unique("grp")
    r = _create(cloud, demo, None, name=name, policies=["anti-affinity"])
    assert r.status_code == 200, r.text
    g = r.json()["server_group"]
    assert g["policies"] == ["anti-affinity"] and g["members"] == [] and g["metadata"] == {}
    assert "project_id" not in g
    r = call(cloud, "GET", f"/os-server-groups/{g['id']}", demo, "2.13")
    assert r.json()["server_group"]["name"] == name and "user_id" in r.json()["server_group"]
    assert call(cloud, "DELETE", f"/os-server-groups/{g['id']}", demo).status_code == 204
    assert call(cloud, "GET", f"/os-server-groups/{g['id']}", demo).status_code == 404


def test_policy_and_rules_264(cloud, demo) -> None:  # type: ignore[no-untyped-def]
    r = _create(cloud, demo, "2.64", name=unique("g"), policy="anti-affinity",
                rules={"max_server_per_host": 2})  # fmt: skip
    assert r.status_code == 200, r.text
    g = r.json()["server_group"]
    assert g["policy"] == "anti-affinity" and g["rules"] == {"max_server_per_host": 2}
    assert "policies" not in g and "metadata" not in g
    r = _create(cloud, demo, "2.64", name=unique("g"), policy="affinity",
                rules={"max_server_per_host": 2})  # fmt: skip
    assert r.status_code == 400 and "Only anti-affinity policy supports rules." in r.text
    assert _create(cloud, demo, "2.64", name=unique("g"), policies=["affinity"]).status_code == 400


def test_soft_policies_need_215(cloud, demo) -> None:  # type: ignore[no-untyped-def]
    assert _create(cloud, demo, "2.14", name="x", policies=["soft-affinity"]).status_code == 400
    r = _create(cloud, demo, "2.15", name=unique("g"), policies=["soft-affinity"])
    assert r.status_code == 200
    assert _create(cloud, demo, "2.15", name="x", policies=["a", "b"]).status_code == 400
    assert _create(cloud, demo, None, name="x", policies=[]).status_code == 400


def test_list_own_and_all_projects(cloud, demo, admin) -> None:  # type: ignore[no-untyped-def]
    mine = _create(cloud, demo, None, name=unique("g"), policies=["affinity"]).json()
    mine_id = mine["server_group"]["id"]
    theirs = _create(cloud, admin, None, name=unique("g"), policies=["affinity"]).json()
    theirs_id = theirs["server_group"]["id"]
    ids = [g["id"] for g in call(cloud, "GET", "/os-server-groups", demo).json()["server_groups"]]
    assert mine_id in ids and theirs_id not in ids
    r = call(cloud, "GET", "/os-server-groups?all_projects=True", admin)
    ids = [g["id"] for g in r.json()["server_groups"]]
    assert mine_id in ids and theirs_id in ids
    assert call(cloud, "GET", "/os-server-groups?all_projects=True", demo).status_code == 403
    r = call(cloud, "GET", "/os-server-groups?all_projects=True&limit=1&offset=0", admin)
    assert len(r.json()["server_groups"]) == 1
    assert call(cloud, "GET", "/os-server-groups?limit=x", admin).status_code == 400
    # another project's group is not the demo user's to see or delete
    assert call(cloud, "GET", f"/os-server-groups/{theirs_id}", demo).status_code == 403
    assert call(cloud, "DELETE", f"/os-server-groups/{theirs_id}", demo).status_code == 403


# --- servers joining groups (scheduler hint "group") ----------------------------------
from tests.compute.api.servers_helpers import Srv, srv_fixture  # noqa: E402, F401


def _group(srv: Srv, policy: str, who: dict | None = None) -> str:
    body = {"server_group": {"name": unique("g"), "policies": [policy]}}
    r = srv.client.post("/compute/v2.1/os-server-groups", json=body,
                        headers=srv.h(who or srv.demo, "2.15"))  # fmt: skip
    assert r.status_code == 200, r.text
    return str(r.json()["server_group"]["id"])


def test_boot_into_group_members_spec_and_delete(srv: Srv) -> None:
    gid = _group(srv, "anti-affinity")
    body = srv.body(min_count=2, max_count=2)
    body["os:scheduler_hints"] = {"group": gid}
    r = srv.post(body)
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    spec = srv.conductor.wait_for(sid)["request_spec"]
    members = srv.get(f"/os-server-groups/{gid}").json()["server_group"]["members"]
    assert sid in members and len(members) == 2
    assert spec["group"] == {"uuid": gid, "policy": "anti-affinity", "rules": {},
                             "members": members, "hosts": []}  # fmt: skip
    assert srv.get(f"/servers/{sid}", mv="2.71").json()["server"]["server_groups"] == [gid]
    # a later member's request carries the hosts of the members placed so far
    srv.set_row(sid, host="hostA")
    body = srv.body()
    body["os:scheduler_hints"] = {"group": gid}
    later = srv.post(body).json()["server"]["id"]
    assert srv.conductor.wait_for(later)["request_spec"]["group"]["hosts"] == ["hostA"]
    # deleting a server takes it out of the group
    other = next(m for m in members if m != sid)
    assert srv.delete(f"/servers/{other}").status_code == 204
    members = srv.get(f"/os-server-groups/{gid}").json()["server_group"]["members"]
    assert other not in members and sid in members


def test_group_hint_must_name_an_existing_own_group(srv: Srv) -> None:
    body = srv.body()
    body["os:scheduler_hints"] = {"group": "00000000-0000-0000-0000-000000000000"}
    r = srv.post(body)
    assert r.status_code == 400 and "could not be found" in r.text
    body["os:scheduler_hints"] = {"group": _group(srv, "affinity", srv.admin)}
    assert srv.post(body).status_code == 400  # the admin's group, not the demo user's


def test_availability_zone_must_exist(srv: Srv) -> None:
    r = srv.post(srv.body(availability_zone="no-such-zone"))
    assert r.status_code == 400 and "availability zone is not available" in r.text
    name, az = unique("pool"), unique("az")
    body = {"aggregate": {"name": name, "availability_zone": az}}
    r = srv.client.post("/compute/v2.1/os-aggregates", json=body, headers=srv.admin)
    assert r.status_code == 200, r.text
    assert srv.post(srv.body(availability_zone=az)).status_code == 202


def test_server_group_and_member_quotas(srv: Srv) -> None:
    from sqlalchemy import delete

    from stackbox.compute import quotas
    from stackbox.compute.opmodels import Quota

    project = srv.demo_ids[1]
    with srv.state.db.session() as s:
        used = quotas.usage(s, project)["server_groups"]
        quotas.set_limits(s, project, "", {"server_groups": used + 1, "server_group_members": 2})
    try:
        gid = _group(srv, "affinity")
        body = {"server_group": {"name": unique("g"), "policies": ["affinity"]}}
        r = srv.client.post("/compute/v2.1/os-server-groups", json=body, headers=srv.demo)
        assert r.status_code == 403 and "Quota exceeded" in r.text
        body = srv.body(min_count=3, max_count=3)
        body["os:scheduler_hints"] = {"group": gid}
        r = srv.post(body)
        assert r.status_code == 403 and "Quota exceeded" in r.text
        body = srv.body(min_count=2, max_count=2)
        body["os:scheduler_hints"] = {"group": gid}
        assert srv.post(body).status_code == 202
    finally:
        with srv.state.db.session() as s:
            s.execute(delete(Quota).where(Quota.project_id == project))
