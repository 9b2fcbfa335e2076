"""Compute version discovery (no token) and the microversion headers."""

from __future__ import annotations

from tests.compute.api.conftest import Cloud, call

BASE = "http://127.0.0.1:18080/compute"


def test_root_lists_v20_then_v21_with_our_microversion_range(cloud: Cloud) -> None:
    for path in ("/compute", "/compute/"):
        r = cloud.client.get(path)
        assert r.status_code == 200, r.text
        v20, v21 = r.json()["versions"]
        assert v20 == {
            "id": "v2.0",
            "status": "DEPRECATED",
            "version": "",
            "min_version": "",
            "updated": "2025-07-04T12:00:00Z",
            "links": [{"rel": "self", "href": f"{BASE}/v2/"}],
        }
        assert v21["id"] == "v2.1"
        assert v21["status"] == "CURRENT"
        assert v21["version"] == "2.100"
        assert v21["min_version"] == "2.1"
        assert v21["updated"] == "2013-07-23T11:33:21Z"
        assert v21["links"] == [{"rel": "self", "href": f"{BASE}/v2.1/"}]


def test_every_listed_version_document_is_at_its_self_link(cloud: Cloud, admin: dict) -> None:
    # What Tempest's test_get_version_details does: follow each self link (with a token).
    for entry in cloud.client.get("/compute/").json()["versions"]:
        (link,) = [x for x in entry["links"] if x["rel"] == "self"]
        r = cloud.client.get(link["href"].removeprefix("http://127.0.0.1:18080"), headers=admin)
        assert r.status_code == 200, r.text
        doc = r.json()["version"]
        assert doc["id"] == entry["id"]
        assert [x for x in doc["links"] if x["rel"] == "self"] == [link]


def test_v20_document_is_the_legacy_one(cloud: Cloud) -> None:
    for path in ("/compute/v2", "/compute/v2/"):
        r = cloud.client.get(path, headers={"OpenStack-API-Version": "compute 2.50"})
        assert r.status_code == 200, r.text
        v = r.json()["version"]
        assert (v["id"], v["status"], v["version"], v["min_version"]) == (
            "v2.0", "DEPRECATED", "", "")  # fmt: skip
        assert v["links"][0] == {"rel": "self", "href": f"{BASE}/v2/"}
        assert v["media-types"][0]["type"] == "application/vnd.openstack.compute+json;version=2"
        assert "OpenStack-API-Version" not in r.headers


def test_v21_document_with_and_without_slash(cloud: Cloud) -> None:
    for path in ("/compute/v2.1", "/compute/v2.1/"):
        r = cloud.client.get(path)
        assert r.status_code == 200, r.text
        v = r.json()["version"]
        assert v["id"] == "v2.1" and v["version"] == "2.100" and v["min_version"] == "2.1"
        assert v["links"][0] == {"rel": "self", "href": f"{BASE}/v2.1/"}
        assert v["links"][1]["rel"] == "describedby"
        assert v["media-types"] == [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ]
        assert r.headers["OpenStack-API-Version"] == "compute 2.1"


def test_latest_is_echoed_as_our_maximum(cloud: Cloud, admin: dict) -> None:
    r = call(cloud, "GET", "/flavors", admin, "latest")
    assert r.status_code == 200
    assert r.headers["OpenStack-API-Version"] == "compute 2.100"
    assert r.headers["X-OpenStack-Nova-API-Version"] == "2.100"
    assert "OpenStack-API-Version" in r.headers["Vary"]


def test_legacy_header_is_honoured(cloud: Cloud, admin: dict) -> None:
    r = cloud.client.get(
        "/compute/v2.1/flavors", headers={**admin, "X-OpenStack-Nova-API-Version": "2.55"}
    )
    assert r.status_code == 200
    assert r.headers["OpenStack-API-Version"] == "compute 2.55"
    assert "description" in r.json()["flavors"][0]


def test_version_above_maximum_is_406(cloud: Cloud, admin: dict) -> None:
    r = call(cloud, "GET", "/flavors", admin, "2.101")
    assert r.status_code == 406
    assert r.json()["computeFault"]["code"] == 406  # Nova has no name for 406
    assert r.headers["OpenStack-API-Version"] == "compute 2.101"  # the version refused


def test_garbage_version_is_400(cloud: Cloud, admin: dict) -> None:
    r = call(cloud, "GET", "/flavors", admin, "two")
    assert r.status_code == 400
    assert r.json()["badRequest"]["code"] == 400
    assert "OpenStack-API-Version" not in r.headers  # no version to name


def test_api_needs_a_token(cloud: Cloud) -> None:
    r = cloud.client.get("/compute/v2.1/flavors")
    assert r.status_code == 401
    assert r.json()["unauthorized"]["code"] == 401
