"""Raw HTTP behaviour of a running stackbox: errors, request ids, discovery."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Running


def test_malformed_json_is_400_and_no_token_is_401(cloud_up: Running) -> None:
    r = httpx.post(
        f"{cloud_up.url}/identity/v3/auth/tokens",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == 400
    r = httpx.get(f"{cloud_up.url}/identity/v3/projects")
    assert r.status_code == 401 and r.json()["error"]["title"] == "Unauthorized"
    assert r.headers["x-openstack-request-id"].startswith("req-")


def test_discovery_with_and_without_slash(cloud_up: Running) -> None:
    for path in ("/identity", "/identity/"):
        r = httpx.get(cloud_up.url + path)
        assert r.status_code == 300
        href = r.json()["versions"]["values"][0]["links"][0]["href"]
        assert href == f"{cloud_up.url}/identity/v3/"


def test_unknown_path_is_404_json(cloud_up: Running) -> None:
    r = httpx.get(f"{cloud_up.url}/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == 404
