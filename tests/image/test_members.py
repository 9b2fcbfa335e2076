"""Visibility and members across two projects (admin's and demo's)."""

from __future__ import annotations

from tests.image.conftest import Cloud, create, get, patch, project_id, unique


def _names(cloud: Cloud, headers: dict, query: str) -> set[str]:
    r = cloud.client.get(f"/image/v2/images{query}", headers=headers)
    assert r.status_code == 200, r.text
    return {i["name"] for i in r.json()["images"]}


def test_visibility_rules(cloud: Cloud, admin: dict, demo: dict) -> None:
    tag = unique("vis")
    made = {
        v: create(cloud, admin, name=f"{tag}-{v}", tags=[tag], visibility=v)
        for v in ("private", "public", "shared", "community")
    }
    q = f"?tag={tag}"
    # demo: never another project's private (404, not 403), community only on request.
    assert _names(cloud, demo, q) == {f"{tag}-public"}
    assert _names(cloud, demo, q + "&visibility=community") == {f"{tag}-community"}
    assert _names(cloud, demo, q + "&visibility=all") == {f"{tag}-public", f"{tag}-community"}
    assert _names(cloud, demo, q + "&visibility=private") == set()
    assert get(cloud, demo, made["private"]["id"]).status_code == 404
    assert get(cloud, demo, made["shared"]["id"]).status_code == 404  # not a member
    assert get(cloud, demo, made["community"]["id"]).status_code == 200
    assert (
        cloud.client.delete(f"/image/v2/images/{made['public']['id']}", headers=demo).status_code
        == 403
    )
    assert (
        cloud.client.delete(f"/image/v2/images/{made['private']['id']}", headers=demo).status_code
        == 404
    )
    # The owner (admin's project) sees its own community image in the default list.
    assert _names(cloud, admin, q) == {f"{tag}-{v}" for v in made}


def test_admin_sees_other_projects_images(cloud: Cloud, admin: dict, demo: dict) -> None:
    tag = unique("adm")
    mine = create(cloud, demo, name=f"{tag}-p", tags=[tag], visibility="private")
    assert _names(cloud, admin, f"?tag={tag}") == {mine["name"]}
    assert get(cloud, admin, mine["id"]).status_code == 200


def test_members_flow(cloud: Cloud, admin: dict, demo: dict) -> None:
    demo_id = project_id(cloud, demo)
    tag = unique("mem")
    img = create(cloud, admin, name=f"{tag}-s", tags=[tag], visibility="shared")
    base = f"/image/v2/images/{img['id']}/members"
    # Only the owner adds members.
    r = cloud.client.post(base, json={"member": demo_id}, headers=demo)
    assert r.status_code == 404  # demo cannot see it yet
    r = cloud.client.post(base, json={"member": demo_id}, headers=admin)
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["member_id"] == demo_id and m["status"] == "pending" and m["image_id"] == img["id"]
    assert m["schema"] == "/v2/schemas/member"
    assert cloud.client.post(base, json={"member": demo_id}, headers=admin).status_code == 409
    assert cloud.client.post(base, json={}, headers=admin).status_code == 400
    # pending: visible by GET, listed only with member_status=pending|all
    assert get(cloud, demo, img["id"]).status_code == 200
    q = f"?tag={tag}"
    assert _names(cloud, demo, q) == set()
    assert _names(cloud, demo, q + "&member_status=pending") == {img["name"]}
    assert _names(cloud, demo, q + "&member_status=all") == {img["name"]}
    assert _names(cloud, demo, q + "&visibility=shared&member_status=pending") == {img["name"]}
    # The owner cannot accept for the member; the member can.
    me = f"{base}/{demo_id}"
    assert cloud.client.put(me, json={"status": "accepted"}, headers=demo).status_code == 200
    assert cloud.client.put(me, json={"status": "maybe"}, headers=demo).status_code == 400
    assert _names(cloud, demo, q) == {img["name"]}
    assert _names(cloud, demo, q + "&visibility=shared") == {img["name"]}
    assert cloud.client.get(me, headers=demo).json()["status"] == "accepted"
    members = cloud.client.get(base, headers=admin).json()
    assert [x["member_id"] for x in members["members"]] == [demo_id]
    assert members["schema"] == "/v2/schemas/members"
    assert cloud.client.get(base, headers=demo).json()["members"][0]["member_id"] == demo_id
    # A member may not modify the image nor manage members.
    ops = [{"op": "replace", "path": "/name", "value": "x"}]
    assert patch(cloud, demo, img["id"], ops).status_code == 403
    assert cloud.client.delete(me, headers=demo).status_code == 403
    r = cloud.client.put(me, json={"status": "rejected"}, headers=demo)
    assert r.status_code == 200
    assert _names(cloud, demo, q) == set()
    assert cloud.client.delete(me, headers=admin).status_code == 204
    assert cloud.client.get(me, headers=admin).status_code == 404
    assert get(cloud, demo, img["id"]).status_code == 404


def test_members_only_for_shared_images(cloud: Cloud, admin: dict, demo: dict) -> None:
    demo_id = project_id(cloud, demo)
    for vis in ("private", "public", "community"):
        img = create(cloud, admin, visibility=vis)
        r = cloud.client.post(
            f"/image/v2/images/{img['id']}/members", json={"member": demo_id}, headers=admin
        )
        assert r.status_code == 403, vis


def test_member_cannot_add_members(cloud: Cloud, admin: dict, demo: dict) -> None:
    demo_id = project_id(cloud, demo)
    img = create(cloud, admin, visibility="shared")
    base = f"/image/v2/images/{img['id']}/members"
    assert cloud.client.post(base, json={"member": demo_id}, headers=admin).status_code == 200
    r = cloud.client.post(base, json={"member": "another"}, headers=demo)
    assert r.status_code == 403
    assert cloud.client.get(f"{base}/another", headers=demo).status_code == 404
