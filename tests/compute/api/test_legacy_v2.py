"""The legacy v2 API at /compute/v2: the v2.1 API with the version fixed at 2.1, the
microversion headers ignored and not echoed (Nova's v2.1 compatible mode)."""

from __future__ import annotations

from stackbox.compute.api import ROUTER, legacy_v2
from tests.compute.api.conftest import Cloud, new_flavor


def test_every_v21_route_is_on_the_legacy_mount() -> None:
    routes = {(s.method, s.path) for s in ROUTER.specs}
    for method, path in routes:
        if path.startswith("/v2.1/") and path != "/v2.1/":
            assert (method, "/v2" + path.removeprefix("/v2.1")) in routes, (method, path)
    assert legacy_v2.is_legacy("/v2") and legacy_v2.is_legacy("/v2/servers")
    assert not legacy_v2.is_legacy("/v2.1/servers")


def test_headers_are_ignored_and_not_echoed(cloud: Cloud, admin: dict) -> None:
    flavor = new_flavor(cloud, admin, "2.55", description="legacy")
    h = {**admin, "OpenStack-API-Version": "compute 2.55", "X-OpenStack-Nova-API-Version": "2.55"}
    r = cloud.client.get(f"/compute/v2/flavors/{flavor['id']}", headers=h)
    assert r.status_code == 200, r.text
    assert "description" not in r.json()["flavor"]  # 2.1's shape, whatever was asked
    for name in ("OpenStack-API-Version", "X-OpenStack-Nova-API-Version", "Vary"):
        assert name not in r.headers
    # A version we would refuse at v2.1 (406) is not even read here.
    r = cloud.client.get("/compute/v2/flavors", headers={**admin, "OpenStack-API-Version": "x"})
    assert r.status_code == 200, r.text
    r = cloud.client.get(f"/compute/v2.1/flavors/{flavor['id']}", headers=h)
    assert r.json()["flavor"]["description"] == "legacy"


def test_legacy_mount_is_authenticated_and_404s_unknown_paths(cloud: Cloud, admin: dict) -> None:
    assert cloud.client.get("/compute/v2/flavors").status_code == 401
    r = cloud.client.get("/compute/v2/nothing-here", headers=admin)
    assert r.status_code == 404
    assert r.json()["itemNotFound"]["code"] == 404
