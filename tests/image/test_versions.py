"""Version discovery and the schema documents."""

from __future__ import annotations

import pytest

from tests.image.conftest import Cloud


@pytest.mark.parametrize("path", ["/image", "/image/", "/image/v2", "/image/v2/"])
def test_version_list(cloud: Cloud, path: str) -> None:
    r = cloud.client.get(path)
    assert r.status_code == 300
    versions = r.json()["versions"]
    assert {v["id"] for v in versions} >= {"v2.0", "v2.17"}
    current = [v for v in versions if v["status"] == "CURRENT"]
    assert [v["id"] for v in current] == ["v2.17"]
    assert current[0]["links"] == [{"rel": "self", "href": "http://127.0.0.1:18080/image/v2/"}]


def test_versions_explicit(cloud: Cloud) -> None:
    assert cloud.client.get("/image/versions").status_code == 200


def test_schemas(cloud: Cloud, admin: dict) -> None:
    image = cloud.client.get("/image/v2/schemas/image", headers=admin).json()
    assert image["name"] == "image"
    assert image["additionalProperties"] == {"type": "string"}
    assert "qcow2" in image["properties"]["disk_format"]["enum"]
    assert None in image["properties"]["container_format"]["enum"]
    assert image["properties"]["status"]["readOnly"] is True
    images = cloud.client.get("/image/v2/schemas/images", headers=admin).json()
    assert images["properties"]["images"]["items"]["name"] == "image"
    member = cloud.client.get("/image/v2/schemas/member", headers=admin).json()
    assert member["properties"]["status"]["enum"] == ["pending", "accepted", "rejected"]
    members = cloud.client.get("/image/v2/schemas/members", headers=admin).json()
    assert members["name"] == "members"


def test_schemas_need_a_token(cloud: Cloud) -> None:
    assert cloud.client.get("/image/v2/schemas/image").status_code == 401


def test_info(cloud: Cloud, admin: dict) -> None:
    r = cloud.client.get("/image/v2/info/import", headers=admin)
    assert r.json()["import-methods"]["value"] == ["glance-direct", "web-download"]
    assert cloud.client.get("/image/v2/info/stores", headers=admin).status_code == 200
