"""Image records: create (defaults, validation), show, delete, deactivate/reactivate,
tags."""

from __future__ import annotations

import uuid

import pytest

from tests.image.conftest import Cloud, create, get, project_id, unique, upload


def test_create_defaults(cloud: Cloud, admin: dict) -> None:
    name = unique("defaults")
    r = cloud.client.post(
        "/image/v2/images",
        json={"name": name, "disk_format": "raw", "container_format": "bare", "tags": ["a"]},
        headers=admin,
    )
    assert r.status_code == 201
    img = r.json()
    assert r.headers["Location"] == f"http://127.0.0.1:18080/image/v2/images/{img['id']}"
    assert r.headers["OpenStack-image-import-methods"] == "glance-direct,web-download"
    assert img["visibility"] == "shared" and img["status"] == "queued"
    assert img["owner"] == project_id(cloud, admin)
    for key in ("size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value"):
        assert img[key] is None
    assert img["protected"] is False and img["os_hidden"] is False
    assert img["min_disk"] == 0 and img["min_ram"] == 0 and img["tags"] == ["a"]
    assert img["self"] == f"/v2/images/{img['id']}"
    assert img["file"] == f"/v2/images/{img['id']}/file"
    assert img["schema"] == "/v2/schemas/image"
    assert img["created_at"].endswith("Z") and "stores" not in img
    assert list(img)[:3] == ["name", "disk_format", "container_format"]


def test_create_with_id_properties_and_conflict(cloud: Cloud, admin: dict) -> None:
    iid = str(uuid.uuid4())
    img = create(cloud, admin, id=iid, hw_disk_bus="scsi", min_ram=512, protected=True)
    assert img["id"] == iid and img["hw_disk_bus"] == "scsi" and img["min_ram"] == 512
    assert next(iter(img)) == "hw_disk_bus"  # extra properties come first, like Glance
    r = cloud.client.post("/image/v2/images", json={"id": iid}, headers=admin)
    assert r.status_code == 409
    r = cloud.client.delete(f"/image/v2/images/{iid}", headers=admin)
    assert r.status_code == 403  # protected
    r = cloud.client.patch(
        f"/image/v2/images/{iid}",
        json=[{"op": "replace", "path": "/protected", "value": False}],
        headers={**admin, "Content-Type": "application/openstack-images-v2.1-json-patch"},
    )
    assert r.status_code == 200
    assert cloud.client.delete(f"/image/v2/images/{iid}", headers=admin).status_code == 204


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"disk_format": "floppy"}, 400),
        ({"container_format": "zip"}, 400),
        ({"visibility": "everyone"}, 400),
        ({"min_ram": -1}, 400),
        ({"min_disk": "x"}, 400),
        ({"protected": "yes"}, 400),
        ({"name": "x" * 256}, 400),
        ({"tags": "a"}, 400),
        ({"id": "not-a-uuid"}, 400),
        ({"color": 5}, 400),
        ({"status": "active"}, 403),
        ({"checksum": "0" * 32}, 403),
        ({"size": 5}, 403),
        ({"deleted": "true"}, 403),
        ({"owner": "someone-else"}, 403),  # demo is not admin
        ({"visibility": "public"}, 403),  # publicize_image is admin only
    ],
)
def test_create_rejects(cloud: Cloud, demo: dict, body: dict, status: int) -> None:
    r = cloud.client.post("/image/v2/images", json=body, headers=demo)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("name", ["os_glance_foo", "os_glance_import_task", "os_glanceish"])
def test_create_rejects_the_reserved_namespace(cloud: Cloud, admin: dict, name: str) -> None:
    before = cloud.client.get("/image/v2/images", headers=admin).json()["images"]
    body = {"name": unique("reserved"), name: "x"}
    r = cloud.client.post("/image/v2/images", json=body, headers=admin)
    assert r.status_code == 403
    assert f"Attribute '{name}' is reserved." in r.text
    assert cloud.client.get("/image/v2/images", headers=admin).json()["images"] == before


def test_create_bad_json(cloud: Cloud, admin: dict) -> None:
    r = cloud.client.post(
        "/image/v2/images", content=b"{", headers={**admin, "Content-Type": "application/json"}
    )
    assert r.status_code == 400
    r = cloud.client.post("/image/v2/images", json=[1], headers=admin)
    assert r.status_code == 400


def test_community_by_owner_and_public_by_admin(cloud: Cloud, admin: dict, demo: dict) -> None:
    assert create(cloud, demo, visibility="community")["visibility"] == "community"
    assert create(cloud, admin, visibility="public")["visibility"] == "public"


def test_get_unknown_is_html_404(cloud: Cloud, admin: dict) -> None:
    iid = str(uuid.uuid4())
    r = get(cloud, admin, iid)
    assert r.status_code == 404
    assert r.headers["content-type"] == "text/html; charset=UTF-8"
    assert f"No image found with ID {iid}" in r.text
    assert get(cloud, admin, "not-an-id").status_code == 404
    assert cloud.client.delete(f"/image/v2/images/{iid}", headers=admin).status_code == 404


def test_delete_removes_record_and_file(cloud: Cloud, admin: dict) -> None:
    from tests.image.conftest import store_dir

    img = create(cloud, admin)
    assert upload(cloud, admin, img["id"], b"data").status_code == 204
    assert (store_dir(cloud) / img["id"]).is_file()
    assert cloud.client.delete(f"/image/v2/images/{img['id']}", headers=admin).status_code == 204
    assert get(cloud, admin, img["id"]).status_code == 404
    assert not (store_dir(cloud) / img["id"]).exists()


def test_deactivate_reactivate(cloud: Cloud, admin: dict, demo: dict) -> None:
    img = create(cloud, demo)
    act = f"/image/v2/images/{img['id']}/actions"
    assert cloud.client.post(f"{act}/deactivate", headers=demo).status_code == 403  # queued
    assert upload(cloud, demo, img["id"], b"abc").status_code == 204
    assert cloud.client.post(f"{act}/deactivate", headers=demo).status_code == 204
    assert get(cloud, demo, img["id"]).json()["status"] == "deactivated"
    r = cloud.client.get(f"/image/v2/images/{img['id']}/file", headers=demo)
    assert r.status_code == 403
    r = cloud.client.get(f"/image/v2/images/{img['id']}/file", headers=admin)
    assert r.status_code == 200 and r.content == b"abc"
    assert cloud.client.post(f"{act}/reactivate", headers=demo).status_code == 204
    assert cloud.client.post(f"{act}/reactivate", headers=demo).status_code == 204
    assert get(cloud, demo, img["id"]).json()["status"] == "active"
    other = create(cloud, admin, visibility="public")
    assert upload(cloud, admin, other["id"], b"x").status_code == 204
    r = cloud.client.post(f"/image/v2/images/{other['id']}/actions/deactivate", headers=demo)
    assert r.status_code == 403  # not the owner


def test_tags(cloud: Cloud, admin: dict, demo: dict) -> None:
    img = create(cloud, admin, tags=["one"], visibility="public")
    base = f"/image/v2/images/{img['id']}/tags"
    assert cloud.client.put(f"{base}/two", headers=admin).status_code == 204
    assert cloud.client.put(f"{base}/two", headers=admin).status_code == 204
    assert get(cloud, admin, img["id"]).json()["tags"] == ["one", "two"]
    assert cloud.client.delete(f"{base}/one", headers=admin).status_code == 204
    assert cloud.client.delete(f"{base}/one", headers=admin).status_code == 404
    assert get(cloud, admin, img["id"]).json()["tags"] == ["two"]
    assert cloud.client.put(f"{base}/three", headers=demo).status_code == 403
