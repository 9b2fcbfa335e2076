"""Image data: the status machine, hashes, download (Range), limits, broken uploads,
stage + import."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator

import pytest

from stackbox.image.models import usage_of
from tests.image.conftest import Cloud, create, get, project_id, store_dir, upload
from tests.samples import UNSAFE, sample

DATA = os.urandom(3 * 1024 * 1024 + 17)
# a usable sample of each disk_format (tests/samples.py)
GOOD = {
    "raw": "raw-blank",
    "qcow2": "standard-qcow2v3",
    "vmdk": "vmdk-streamOptimized",
    "iso": "standard-iso9660",
}


@contextlib.contextmanager
def option(cloud: Cloud, name: str, value: object) -> Iterator[None]:
    cfg = cloud.state.cfg  # type: ignore[attr-defined]
    old = cfg.get("image", name)
    cfg.set("image", name, value)
    try:
        yield
    finally:
        cfg.set("image", name, old)


def _no_leftovers(cloud: Cloud, image_id: str) -> None:
    root = store_dir(cloud)
    assert not (root / image_id).exists()
    assert not list(root.glob(".tmp-*")) and not list((root / "staging").glob(".tmp-*"))


def test_upload_status_hashes_download(cloud: Cloud, admin: dict) -> None:
    img = create(cloud, admin)
    r = cloud.client.get(f"/image/v2/images/{img['id']}/file", headers=admin)
    assert r.status_code == 204  # no data yet

    def chunks() -> Iterator[bytes]:  # a chunked (streamed) body
        for i in range(0, len(DATA), 100_000):
            yield DATA[i : i + 100_000]

    r = upload(cloud, admin, img["id"], chunks())
    assert r.status_code == 204, r.text
    got = get(cloud, admin, img["id"]).json()
    assert got["status"] == "active" and got["size"] == len(DATA)
    assert got["virtual_size"] == len(DATA)  # raw
    assert got["checksum"] == hashlib.md5(DATA).hexdigest()
    assert got["os_hash_algo"] == "sha512"
    assert got["os_hash_value"] == hashlib.sha512(DATA).hexdigest()
    assert got["stores"] == "fs"
    r = cloud.client.get(f"/image/v2/images/{img['id']}/file", headers=admin)
    assert r.status_code == 200 and r.content == DATA
    assert r.headers["Content-MD5"] == got["checksum"]
    assert r.headers["Content-Length"] == str(len(DATA))
    assert r.headers["content-type"] == "application/octet-stream"
    r = cloud.client.get(
        f"/image/v2/images/{img['id']}/file", headers={**admin, "Range": "bytes=10-1009"}
    )
    assert r.status_code == 206 and r.content == DATA[10:1010]
    assert r.headers["Content-Range"] == f"bytes 10-1009/{len(DATA)}"
    # Only a queued image takes data.
    assert upload(cloud, admin, img["id"], b"again").status_code == 409


def test_upload_with_declared_size(cloud: Cloud, admin: dict) -> None:
    img = create(cloud, admin)
    r = upload(cloud, admin, img["id"], b"12345", **{"X-OpenStack-Image-Size": "5"})
    assert r.status_code == 204
    img = create(cloud, admin)
    r = upload(cloud, admin, img["id"], b"12345", **{"X-OpenStack-Image-Size": "6"})
    assert r.status_code == 400
    assert get(cloud, admin, img["id"]).json()["status"] == "killed"
    _no_leftovers(cloud, img["id"])


def test_upload_rejects_other_media_types(cloud: Cloud, admin: dict) -> None:
    img = create(cloud, admin)
    r = upload(cloud, admin, img["id"], b"x", **{"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert get(cloud, admin, img["id"]).json()["status"] == "queued"


def test_size_cap(cloud: Cloud, admin: dict) -> None:
    img = create(cloud, admin)
    with option(cloud, "image_size_cap", 1000):
        r = upload(cloud, admin, img["id"], iter([b"x" * 600, b"x" * 600]))
    assert r.status_code == 413
    assert get(cloud, admin, img["id"]).json()["status"] == "killed"
    _no_leftovers(cloud, img["id"])


def test_size_cap_announced(cloud: Cloud, admin: dict) -> None:
    img = create(cloud, admin)
    with option(cloud, "image_size_cap", 1000):
        r = upload(cloud, admin, img["id"], b"x" * 1001)
    assert r.status_code == 413
    assert get(cloud, admin, img["id"]).json()["status"] == "killed"
    _no_leftovers(cloud, img["id"])


def test_storage_quota(cloud: Cloud, demo: dict) -> None:
    # What the project stores already, all of it (a listing would show one page only).
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        used = usage_of(s, project_id(cloud, demo))
    with option(cloud, "user_storage_quota", used + 1500):
        first = create(cloud, demo)
        assert upload(cloud, demo, first["id"], b"a" * 1000).status_code == 204
        second = create(cloud, demo)
        r = upload(cloud, demo, second["id"], iter([b"b" * 400, b"b" * 400]))
        assert r.status_code == 413
        assert get(cloud, demo, second["id"]).json()["status"] == "killed"
        _no_leftovers(cloud, second["id"])
        third = create(cloud, demo)
        assert upload(cloud, demo, third["id"], b"c" * 500).status_code == 204


def test_body_cut_off(cloud: Cloud, admin: dict) -> None:
    img = create(cloud, admin)

    def broken() -> Iterator[bytes]:
        yield b"x" * 100_000
        raise ConnectionError("client went away")

    r = upload(cloud, admin, img["id"], broken())
    assert r.status_code == 400
    assert get(cloud, admin, img["id"]).json()["status"] == "killed"
    _no_leftovers(cloud, img["id"])


def test_content_length_larger_than_sent(cloud: Cloud, admin: dict) -> None:
    img = create(cloud, admin)
    r = upload(cloud, admin, img["id"], b"x" * 10, **{"Content-Length": "100"})
    assert r.status_code == 400
    assert get(cloud, admin, img["id"]).json()["status"] == "killed"
    _no_leftovers(cloud, img["id"])


def test_upload_by_non_owner(cloud: Cloud, admin: dict, demo: dict) -> None:
    img = create(cloud, admin, visibility="public")
    assert upload(cloud, demo, img["id"], b"x").status_code == 403
    private = create(cloud, admin, visibility="private")
    assert upload(cloud, demo, private["id"], b"x").status_code == 404


def test_data_not_in_the_declared_format_is_refused(cloud: Cloud, admin: dict) -> None:
    img = create(cloud, admin, disk_format="qcow2")
    r = upload(cloud, admin, img["id"], b"this is not a qcow2 image" * 100)
    assert r.status_code == 415  # Glance's answer to InvalidImageData
    assert "Image disk_format qcow2 does not match stream data raw" in r.text
    assert get(cloud, admin, img["id"]).json()["status"] == "queued"
    _no_leftovers(cloud, img["id"])


@pytest.mark.parametrize("name", UNSAFE)
def test_unsafe_images_are_refused_and_the_image_stays_queued(
    cloud: Cloud, admin: dict, image_samples: dict, name: str
) -> None:
    bad = sample(image_samples, name)
    disk_format = "raw" if bad.format == "qed" else bad.format  # Glance lists no qed
    img = create(cloud, admin, disk_format=disk_format)
    r = upload(cloud, admin, img["id"], bad.path.read_bytes())
    assert r.status_code == 415, r.text
    got = get(cloud, admin, img["id"]).json()
    assert got["status"] == "queued" and got["size"] is None and got["checksum"] is None
    _no_leftovers(cloud, img["id"])
    # queued again: good data of the same format is taken
    data = sample(image_samples, GOOD[disk_format]).path.read_bytes()
    assert upload(cloud, admin, img["id"], data).status_code == 204
    assert get(cloud, admin, img["id"]).json()["status"] == "active"


def test_qcow2_virtual_size(cloud: Cloud, admin: dict, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from stackbox import privileged

    if not privileged.available("qemu-img"):
        pytest.skip("qemu-img not installed")
    path = tmp_path / "d.qcow2"
    privileged.run(["qemu-img", "create", "-f", "qcow2", str(path), "32M"])
    img = create(cloud, admin, disk_format="qcow2")
    assert upload(cloud, admin, img["id"], path.read_bytes()).status_code == 204
    got = get(cloud, admin, img["id"]).json()
    assert got["virtual_size"] == 32 * 1024 * 1024 and got["size"] == path.stat().st_size


def test_stage_and_import(cloud: Cloud, admin: dict) -> None:
    img = create(cloud, admin)
    base = f"/image/v2/images/{img['id']}"
    body = {"method": {"name": "glance-direct"}}
    assert cloud.client.post(f"{base}/import", json=body, headers=admin).status_code == 409
    r = cloud.client.put(
        f"{base}/stage",
        content=DATA,
        headers={**admin, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 204
    assert get(cloud, admin, img["id"]).json()["status"] == "uploading"
    bad = {"method": {"name": "copy-image"}}
    assert cloud.client.post(f"{base}/import", json=bad, headers=admin).status_code == 400
    web = {"method": {"name": "web-download", "uri": "http://example.com/x"}}
    assert cloud.client.post(f"{base}/import", json=web, headers=admin).status_code == 409
    assert cloud.client.post(f"{base}/import", json=body, headers=admin).status_code == 202
    got = get(cloud, admin, img["id"]).json()
    assert got["status"] == "active" and got["checksum"] == hashlib.md5(DATA).hexdigest()
    assert cloud.client.get(f"{base}/file", headers=admin).content == DATA
    assert not (store_dir(cloud) / "staging" / img["id"]).exists()


def test_unsafe_staged_data_is_refused_on_import(
    cloud: Cloud, admin: dict, image_samples: dict
) -> None:
    bad = sample(image_samples, "qcow-with-backing")
    img = create(cloud, admin, disk_format="qcow2")
    base = f"/image/v2/images/{img['id']}"
    octets = {**admin, "Content-Type": "application/octet-stream"}
    r = cloud.client.put(f"{base}/stage", content=bad.path.read_bytes(), headers=octets)
    assert r.status_code == 204  # staged data is checked on import
    body = {"method": {"name": "glance-direct"}}
    assert cloud.client.post(f"{base}/import", json=body, headers=admin).status_code == 202
    assert get(cloud, admin, img["id"]).json()["status"] == "queued"
    assert not (store_dir(cloud) / "staging" / img["id"]).exists()
    _no_leftovers(cloud, img["id"])
    tasks = cloud.client.get(f"{base}/tasks", headers=admin).json()["tasks"]
    assert [(t["status"], t["message"]) for t in tasks] == [
        ("failure", "Image failed safety checks")
    ]
    # queued again: the import can be retried with good data
    good = sample(image_samples, GOOD["qcow2"]).path.read_bytes()
    assert cloud.client.put(f"{base}/stage", content=good, headers=octets).status_code == 204
    assert cloud.client.post(f"{base}/import", json=body, headers=admin).status_code == 202
    assert get(cloud, admin, img["id"]).json()["status"] == "active"


def test_delete_while_queued_and_after_kill(cloud: Cloud, admin: dict) -> None:
    img = create(cloud, admin)
    with option(cloud, "image_size_cap", 1):
        assert upload(cloud, admin, img["id"], b"xx").status_code == 413
    assert cloud.client.delete(f"/image/v2/images/{img['id']}", headers=admin).status_code == 204
