"""Flavor access: sharing a private flavor with a project, and what that project sees."""

from __future__ import annotations

from tests.compute.api.conftest import Cloud, call, new_flavor, token_info


def _action(cloud: Cloud, headers: dict, flavor_id: str, body: dict, version: str | None = None):  # type: ignore[no-untyped-def]
    return call(cloud, "POST", f"/flavors/{flavor_id}/action", headers, version, json=body)


def test_grant_makes_private_flavor_visible(cloud: Cloud, admin: dict, demo: dict) -> None:
    demo_project = token_info(cloud, demo)["project"]["id"]
    f = new_flavor(cloud, admin, **{"os-flavor-access:is_public": False})
    fid = f["id"]
    r = call(cloud, "GET", f"/flavors/{fid}/os-flavor-access", admin)
    assert r.status_code == 200 and r.json() == {"flavor_access": []}

    r = _action(cloud, admin, fid, {"addTenantAccess": {"tenant": demo_project}})
    assert r.status_code == 200, r.text
    assert r.json() == {"flavor_access": [{"flavor_id": fid, "tenant_id": demo_project}]}
    assert call(cloud, "GET", f"/flavors/{fid}/os-flavor-access", admin).json() == r.json()

    assert call(cloud, "GET", f"/flavors/{fid}", demo).status_code == 200
    listed = call(cloud, "GET", "/flavors/detail", demo).json()["flavors"]
    assert fid in {x["id"] for x in listed}

    again = _action(cloud, admin, fid, {"addTenantAccess": {"tenant": demo_project}})
    assert again.status_code == 409
    assert "already exists" in again.json()["conflictingRequest"]["message"]

    r = _action(cloud, admin, fid, {"removeTenantAccess": {"tenant": demo_project}})
    assert r.status_code == 200 and r.json() == {"flavor_access": []}
    assert call(cloud, "GET", f"/flavors/{fid}", demo).status_code == 404
    r = _action(cloud, admin, fid, {"removeTenantAccess": {"tenant": demo_project}})
    assert r.status_code == 404
    assert r.json()["itemNotFound"]["message"] == (
        f"Flavor access not found for {fid} / {demo_project} combination."
    )


def test_public_flavor_rules(cloud: Cloud, admin: dict) -> None:
    admin_project = token_info(cloud, admin)["project"]["id"]
    r = call(cloud, "GET", "/flavors/1/os-flavor-access", admin)
    assert r.status_code == 404
    assert r.json()["itemNotFound"]["message"] == "Access list not available for public flavors."
    r = _action(cloud, admin, "1", {"addTenantAccess": {"tenant": admin_project}}, "2.7")
    assert r.status_code == 409
    assert r.json()["conflictingRequest"]["message"] == "Can not add access to a public flavor."


def test_bad_requests(cloud: Cloud, admin: dict) -> None:
    f = new_flavor(cloud, admin, **{"os-flavor-access:is_public": False})
    r = _action(cloud, admin, f["id"], {"addTenantAccess": {"tenant": "no-such-project"}})
    assert r.status_code == 400
    assert r.json()["badRequest"]["message"] == "Project ID no-such-project is not a valid project."
    assert _action(cloud, admin, f["id"], {"addTenantAccess": {}}).status_code == 400
    assert _action(cloud, admin, f["id"], {"fly": {}}).status_code == 400
    assert _action(cloud, admin, f["id"], ["x"]).status_code == 400  # type: ignore[arg-type]
    admin_project = token_info(cloud, admin)["project"]["id"]
    r = _action(cloud, admin, "no-such", {"addTenantAccess": {"tenant": admin_project}})
    assert r.status_code == 404


def test_demo_may_not_touch_access(cloud: Cloud, admin: dict, demo: dict) -> None:
    f = new_flavor(cloud, admin, **{"os-flavor-access:is_public": False})
    demo_project = token_info(cloud, demo)["project"]["id"]
    assert call(cloud, "GET", f"/flavors/{f['id']}/os-flavor-access", demo).status_code == 403
    r = _action(cloud, demo, f["id"], {"addTenantAccess": {"tenant": demo_project}})
    assert r.status_code == 403
    assert call(cloud, "GET", f"/flavors/{f['id']}", demo).status_code == 404
