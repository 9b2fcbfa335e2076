"""The web-download import (POST /v2/images/{id}/import): the image's data comes from a
local web server in the background; the failures (unreachable, 404, bad data, too
large) leave the image `queued` and the task failed; refused URIs, bad bodies, wrong
image states and other projects' images are refused at request time."""

from __future__ import annotations

import hashlib
import socket
import time
from typing import Any

import pytest

from tests.image.conftest import Cloud, create, get, store_dir, unique
from tests.image.websites import Site, local_site


def _import(cloud: Cloud, headers: dict, image_id: str, uri: Any, **extra: Any) -> Any:
    body = {"method": {"name": "web-download", "uri": uri}, **extra}
    return cloud.client.post(f"/image/v2/images/{image_id}/import", json=body, headers=headers)


def _settled(cloud: Cloud, headers: dict, image_id: str) -> dict:
    """The image once its import has ended (it is not `importing` any more)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        img = get(cloud, headers, image_id).json()
        if img["status"] != "importing":
            return img
        time.sleep(0.05)
    raise AssertionError(f"image {image_id} is still importing")


def _tasks(cloud: Cloud, headers: dict, image_id: str) -> list:
    r = cloud.client.get(f"/image/v2/images/{image_id}/tasks", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["tasks"]


def test_web_download_imports_the_data(cloud: Cloud, admin: dict, site: Site) -> None:
    img = create(cloud, admin, disk_format="qcow2")
    with local_site(cloud, site):
        r = _import(cloud, admin, img["id"], site.url("/disk.qcow2"), all_stores=True)
        assert r.status_code == 202, r.text
        got = _settled(cloud, admin, img["id"])
    assert got["status"] == "active" and got["stores"] == "fs"
    assert got["size"] == len(site.qcow2) and got["virtual_size"] == 1 << 20
    assert got["checksum"] == hashlib.md5(site.qcow2).hexdigest()
    assert got["os_hash_algo"] == "sha512"
    assert got["os_hash_value"] == hashlib.sha512(site.qcow2).hexdigest()
    assert got["os_glance_importing_to_stores"] == "" and got["os_glance_failed_import"] == ""
    data = cloud.client.get(f"/image/v2/images/{img['id']}/file", headers=admin)
    assert data.content == site.qcow2
    (task,) = _tasks(cloud, admin, img["id"])
    assert task["type"] == "api_image_import" and task["status"] == "success"
    assert task["result"] == {"image_id": img["id"]} and task["message"] == ""
    assert task["input"]["import_req"]["method"]["uri"] == site.url("/disk.qcow2")
    assert task["request_id"] == r.headers["x-openstack-request-id"]


def test_the_request_does_not_wait_for_the_download(cloud: Cloud, admin: dict, site: Site) -> None:
    img = create(cloud, admin, disk_format="qcow2")
    site.release.clear()
    with local_site(cloud, site):
        try:
            r = _import(cloud, admin, img["id"], site.url("/slow.qcow2"))
            assert r.status_code == 202, r.text
            shown = get(cloud, admin, img["id"]).json()
            assert shown["status"] == "importing"
            assert shown["os_glance_importing_to_stores"] == "fs"
            again = _import(cloud, admin, img["id"], site.url("/disk.qcow2"))
            assert again.status_code == 409  # one import at a time
        finally:
            site.release.set()
        assert _settled(cloud, admin, img["id"])["status"] == "active"


def _failed(cloud: Cloud, admin: dict, site: Site, uri: str, port: int = 80) -> str:
    """Import `uri` into a new qcow2 image; check what a failure leaves, return its
    task's message."""
    img = create(cloud, admin, disk_format="qcow2")
    with local_site(cloud, site, port):
        assert _import(cloud, admin, img["id"], uri).status_code == 202
        got = _settled(cloud, admin, img["id"])
    assert got["status"] == "queued" and got["os_glance_failed_import"] == "fs"
    assert got["os_glance_importing_to_stores"] == ""
    assert got["size"] is None and got["checksum"] is None
    assert not (store_dir(cloud) / img["id"]).exists()
    assert not list(store_dir(cloud).glob(".tmp-*"))
    (task,) = _tasks(cloud, admin, img["id"])
    assert task["status"] == "failure" and task["result"] is None
    with local_site(cloud, site):  # queued again: another import may follow
        assert _import(cloud, admin, img["id"], site.url("/disk.qcow2")).status_code == 202
        assert _settled(cloud, admin, img["id"])["status"] == "active"
    return task["message"]


def test_unreachable_source(cloud: Cloud, admin: dict, site: Site) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    message = _failed(cloud, admin, site, f"http://127.0.0.1:{port}/disk.qcow2", port)
    assert message.startswith(f"Could not connect to http://127.0.0.1:{port}/")


def test_missing_and_bad_data(cloud: Cloud, admin: dict, site: Site) -> None:
    assert "the server answered 404" in _failed(cloud, admin, site, site.url("/nope.qcow2"))
    message = _failed(cloud, admin, site, site.url("/garbage.qcow2"))
    assert "does not match stream data" in message  # Glance's format inspector wording


def test_data_over_the_size_cap(cloud: Cloud, admin: dict, site: Site) -> None:
    cfg = cloud.state.cfg  # type: ignore[attr-defined]
    old = cfg.get("image", "image_size_cap")
    cfg.set("image", "image_size_cap", len(site.qcow2) - 1)
    try:
        img = create(cloud, admin, disk_format="qcow2")
        with local_site(cloud, site):
            assert _import(cloud, admin, img["id"], site.url("/disk.qcow2")).status_code == 202
            assert _settled(cloud, admin, img["id"])["status"] == "queued"
    finally:
        cfg.set("image", "image_size_cap", old)
    (task,) = _tasks(cloud, admin, img["id"])
    assert task["status"] == "failure" and "size limit" in task["message"]


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1/disk.qcow2",  # loopback: not allowed by default
        "http://169.254.169.254/latest/meta-data",
        "http://does-not.exist/no/possible/way",  # Tempest's bad URL: no such host
        "http://example.com:8080/disk.qcow2",  # a port not allowed
        "file:///etc/passwd",
        "ftp://example.com/disk.qcow2",
        None,
    ],
)
def test_refused_uris(cloud: Cloud, admin: dict, uri: str | None) -> None:
    img = create(cloud, admin, disk_format="qcow2")
    r = _import(cloud, admin, img["id"], uri)
    assert r.status_code == 400, r.text
    assert f"URI for web-download does not pass filtering: {uri}" in r.text
    assert get(cloud, admin, img["id"]).json()["status"] == "queued"
    assert _tasks(cloud, admin, img["id"]) == []


WEB = {"name": "web-download", "uri": "http://example.com/x"}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"all_stores": True}, 400, "Import request requires a 'method' field."),
        ({"method": "web-download"}, 400, "Import request requires a 'method' field."),
        ({"method": {"uri": "http://example.com/x"}}, 400, "requires a 'name' field."),
        ({"method": {"name": "copy-image"}}, 400, "Unknown import method name 'copy-image'."),
        ({"method": WEB, "all_stores": "yes"}, 400, "'all_stores' must be boolean value only"),
        ({"method": WEB, "all_stores": True, "stores": ["fs"]}, 400, "can't be used with"),
        ({"method": WEB, "stores": "fs"}, 400, "'stores' must be a list"),
        ({"method": WEB, "stores": ["ceph"]}, 409, "Unknown scheme 'ceph'"),
    ],
)
def test_bad_bodies(cloud: Cloud, admin: dict, body: dict, status: int, message: str) -> None:
    img = create(cloud, admin, disk_format="qcow2")
    r = cloud.client.post(f"/image/v2/images/{img['id']}/import", json=body, headers=admin)
    assert r.status_code == status, r.text
    assert message in r.text
    assert get(cloud, admin, img["id"]).json()["status"] == "queued"


def test_wrong_image_states(cloud: Cloud, admin: dict, site: Site) -> None:
    uri = site.url("/disk.qcow2")
    staged = create(cloud, admin)
    base = f"/image/v2/images/{staged['id']}"
    octets = {**admin, "Content-Type": "application/octet-stream"}
    assert cloud.client.put(f"{base}/stage", content=b"x", headers=octets).status_code == 204
    active = create(cloud, admin)
    r = cloud.client.put(f"/image/v2/images/{active['id']}/file", content=b"x", headers=octets)
    assert r.status_code == 204
    no_format = create(cloud, admin, disk_format=None)
    with local_site(cloud, site):
        r = _import(cloud, admin, staged["id"], uri)
        assert r.status_code == 409 and "needs to be in 'queued' state" in r.text
        r = _import(cloud, admin, active["id"], uri)
        assert r.status_code == 409 and "status active cannot be target" in r.text
        r = _import(cloud, admin, no_format["id"], uri)
        assert r.status_code == 409 and "'disk_format' needs to be set" in r.text
        # the image is checked before the URI, as Glance
        assert _import(cloud, admin, active["id"], "http://127.0.0.1/x").status_code == 409
    assert get(cloud, admin, active["id"]).json()["status"] == "active"


def test_other_projects_images(cloud: Cloud, admin: dict, demo: dict, site: Site) -> None:
    private = create(cloud, admin, disk_format="qcow2", visibility="private")
    public = create(cloud, admin, disk_format="qcow2", visibility="public")
    missing = unique("no-such-image")
    with local_site(cloud, site):
        assert _import(cloud, demo, private["id"], site.url("/disk.qcow2")).status_code == 404
        assert _import(cloud, demo, missing, site.url("/disk.qcow2")).status_code == 404
        assert _import(cloud, demo, public["id"], site.url("/disk.qcow2")).status_code == 403
    for img in (private, public):
        assert get(cloud, admin, img["id"]).json()["status"] == "queued"
        assert _tasks(cloud, admin, img["id"]) == []
