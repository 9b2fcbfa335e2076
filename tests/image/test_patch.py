"""PATCH /v2/images/{id} (JSON patch): allowed and forbidden operations."""

from __future__ import annotations

import pytest

from tests.image.conftest import Cloud, create, get, patch, upload


def test_patch_ops(cloud: Cloud, admin: dict) -> None:
    img = create(cloud, admin, old="1", tags=["a"])
    r = patch(
        cloud,
        admin,
        img["id"],
        [
            {"op": "add", "path": "/sample_property", "value": "v"},
            {"op": "replace", "path": "/name", "value": "renamed"},
            {"op": "remove", "path": "/old"},
            {"op": "replace", "path": "/tags", "value": ["b", "a", "b"]},
            {"op": "replace", "path": "/min_disk", "value": 3},
            {"op": "add", "path": "/os_hidden", "value": True},
            {"op": "replace", "path": "/disk_format", "value": "qcow2"},
            {"op": "add", "path": "/a~1b", "value": "slash"},
        ],
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sample_property"] == "v" and body["name"] == "renamed" and "old" not in body
    assert body["tags"] == ["a", "b"] and body["min_disk"] == 3 and body["os_hidden"] is True
    assert body["disk_format"] == "qcow2" and body["a/b"] == "slash"
    assert get(cloud, admin, img["id"]).json() == body
    r = patch(cloud, admin, img["id"], [{"op": "add", "path": "/sample_property", "value": "w"}])
    assert r.json()["sample_property"] == "w"


@pytest.mark.parametrize(
    ("ops", "status"),
    [
        ([{"op": "replace", "path": "/status", "value": "active"}], 403),
        ([{"op": "replace", "path": "/id", "value": "x"}], 403),
        ([{"op": "add", "path": "/checksum", "value": "x"}], 403),
        ([{"op": "replace", "path": "/size", "value": 1}], 403),
        ([{"op": "replace", "path": "/os_hash_value", "value": "x"}], 403),
        ([{"op": "replace", "path": "/created_at", "value": "x"}], 403),
        ([{"op": "add", "path": "/deleted", "value": "x"}], 403),
        ([{"op": "replace", "path": "/owner", "value": "x"}], 403),
        ([{"op": "remove", "path": "/name"}], 403),
        ([{"op": "replace", "path": "/visibility", "value": "public"}], 403),
        ([{"op": "add", "path": "/locations/-", "value": {}}], 403),
        ([{"op": "replace", "path": "/missing", "value": "x"}], 409),
        ([{"op": "remove", "path": "/missing"}], 409),
        ([{"op": "move", "path": "/name", "from": "/x"}], 400),
        ([{"op": "add", "path": "/x"}], 400),
        ([{"op": "add", "path": "/x", "value": 5}], 400),
        ([{"op": "add", "path": "/a/b", "value": "x"}], 400),
        ([{"op": "add", "path": "name", "value": "x"}], 400),
        ([{"op": "replace", "path": "/visibility", "value": "nope"}], 400),
        ([{"op": "replace", "path": "/min_ram", "value": -5}], 400),
        ({"op": "add"}, 400),
    ],
)
def test_patch_rejects(cloud: Cloud, demo: dict, ops: object, status: int) -> None:
    img = create(cloud, demo)
    r = patch(cloud, demo, img["id"], ops)  # type: ignore[arg-type]
    assert r.status_code == status, r.text


def test_patch_needs_the_patch_media_type(cloud: Cloud, admin: dict) -> None:
    img = create(cloud, admin)
    r = cloud.client.patch(f"/image/v2/images/{img['id']}", json=[], headers=admin)
    assert r.status_code == 415


def test_patch_is_all_or_nothing(cloud: Cloud, admin: dict) -> None:
    img = create(cloud, admin, name="keep")
    r = patch(
        cloud,
        admin,
        img["id"],
        [
            {"op": "replace", "path": "/name", "value": "changed"},
            {"op": "replace", "path": "/status", "value": "active"},
        ],
    )
    assert r.status_code == 403
    assert get(cloud, admin, img["id"]).json()["name"] == "keep"


def test_formats_frozen_after_upload(cloud: Cloud, admin: dict) -> None:
    img = create(cloud, admin)
    assert upload(cloud, admin, img["id"], b"x").status_code == 204
    r = patch(cloud, admin, img["id"], [{"op": "replace", "path": "/disk_format", "value": "iso"}])
    assert r.status_code == 403
    r = patch(cloud, admin, img["id"], [{"op": "replace", "path": "/disk_format", "value": "raw"}])
    assert r.status_code == 200


def test_admin_may_publicize_and_change_owner(cloud: Cloud, admin: dict, demo: dict) -> None:
    img = create(cloud, demo)
    ops = [{"op": "replace", "path": "/visibility", "value": "public"}]
    assert patch(cloud, admin, img["id"], ops).json()["visibility"] == "public"
    ops = [{"op": "replace", "path": "/owner", "value": "elsewhere"}]
    assert patch(cloud, admin, img["id"], ops).json()["owner"] == "elsewhere"
    # Demo still sees it (public) but may not modify it any more.
    ops = [{"op": "replace", "path": "/name", "value": "x"}]
    assert patch(cloud, demo, img["id"], ops).status_code == 403
