"""PATCH /v2/images/{id} (JSON patch): allowed and forbidden operations."""

from __future__ import annotations

import pytest

from tests.image.conftest import PATCH_V20, PATCH_V21, Cloud, create, get, patch, upload


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


def test_patch_in_the_v2_0_media_type(cloud: Cloud, demo: dict) -> None:
    """Tempest's image client: operations keyed by their op."""
    img = create(cloud, demo, old="1", tags=["a"])
    ops = [
        {"replace": "/name", "value": "renamed"},
        {"add": "/key1", "value": "value1"},
        {"remove": "/old"},
        {"replace": "/tags", "value": ["b"]},
        {"replace": "/min_ram", "value": 64},
    ]
    r = patch(cloud, demo, img["id"], ops, PATCH_V20)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "renamed" and body["key1"] == "value1" and "old" not in body
    assert body["tags"] == ["b"] and body["min_ram"] == 64
    assert get(cloud, demo, img["id"]).json() == body
    r = patch(cloud, demo, img["id"], [{"remove": "/key1"}], PATCH_V20)
    assert r.status_code == 200 and "key1" not in r.json()


@pytest.mark.parametrize(
    ("ops", "status"),
    [
        ([{"add": "/key1", "value": "again"}], 409),  # v2.0 add may not overwrite
        ([{"add": "/name", "value": "x"}], 409),
        ([{"add": "/tags", "value": ["x"]}], 409),
        ([{"replace": "/missing", "value": "x"}], 409),
        ([{"remove": "/missing"}], 409),
        ([{"add": "/visibility", "value": "public"}], 403),  # publicize policy first
        ([{"replace": "/status", "value": "active"}], 403),
        ([{"remove": "/checksum"}], 403),
        ([{"add": "/x", "replace": "/y", "value": "v"}], 400),
        ([{"op": "add", "path": "/x", "value": "v"}], 400),  # v2.1 shape in v2.0
        ([{"add": "x", "value": "v"}], 400),
        ([{"add": "/x"}], 400),
        ([{"add": "/x", "value": 5}], 400),
        ([{"add": "/a/b", "value": "v"}], 400),
        (["add"], 400),
    ],
)
def test_patch_v2_0_rejects(cloud: Cloud, demo: dict, ops: list, status: int) -> None:
    img = create(cloud, demo, key1="v")
    r = patch(cloud, demo, img["id"], ops, PATCH_V20)
    assert r.status_code == status, r.text
    assert get(cloud, demo, img["id"]).json() == img


def test_v2_1_add_overwrites_where_v2_0_conflicts(cloud: Cloud, demo: dict) -> None:
    img = create(cloud, demo, key1="v")
    ops = [{"op": "add", "path": "/key1", "value": "w"}]
    assert patch(cloud, demo, img["id"], ops).json()["key1"] == "w"
    ops20 = [{"add": "/key1", "value": "z"}]
    assert patch(cloud, demo, img["id"], ops20, PATCH_V20).status_code == 409


@pytest.mark.parametrize(
    "media", ["application/json", "application/json-patch+json", "text/plain", None]
)
def test_other_media_types_are_415(cloud: Cloud, demo: dict, media: str | None) -> None:
    img = create(cloud, demo)
    headers = dict(demo) if media is None else {**demo, "Content-Type": media}
    r = cloud.client.patch(f"/image/v2/images/{img['id']}", content=b"[]", headers=headers)
    assert r.status_code == 415
    assert r.headers["Accept-Patch"] == f"{PATCH_V20}, {PATCH_V21}"


@pytest.mark.parametrize("path", ["/a//b", "/a/", "/x~2", "/x~", "//"])
def test_malformed_pointers(cloud: Cloud, demo: dict, path: str) -> None:
    img = create(cloud, demo)
    r = patch(cloud, demo, img["id"], [{"op": "add", "path": path, "value": "v"}])
    assert r.status_code == 400, r.text


def test_whole_patch_is_checked_before_anything_changes(cloud: Cloud, demo: dict) -> None:
    """A read-only attribute later in the patch is a 403, not the 409 of an earlier op."""
    img = create(cloud, demo, name="keep")
    ops = [
        {"op": "replace", "path": "/name", "value": "changed"},
        {"op": "replace", "path": "/missing", "value": "x"},
        {"op": "replace", "path": "/size", "value": 1},
    ]
    assert patch(cloud, demo, img["id"], ops).status_code == 403
    assert get(cloud, demo, img["id"]).json()["name"] == "keep"


@pytest.mark.parametrize("media", [PATCH_V21, PATCH_V20])
@pytest.mark.parametrize("op", ["add", "replace", "remove"])
def test_reserved_namespace_is_403_for_every_op(
    cloud: Cloud, admin: dict, media: str, op: str
) -> None:
    """Not even admins touch os_glance* properties; a remove of one that is not there
    is 403 as well, not 409."""
    img = create(cloud, admin)
    item: dict = (
        {"op": op, "path": "/os_glance_foo"} if media == PATCH_V21 else {op: "/os_glance_foo"}
    )
    if op != "remove":
        item["value"] = "x"
    r = patch(cloud, admin, img["id"], [item], media)
    assert r.status_code == 403
    assert "Attribute 'os_glance_foo' is reserved." in r.text
    assert "os_glance_foo" not in get(cloud, admin, img["id"]).json()
