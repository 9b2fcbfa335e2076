"""The Image API through the unmodified `openstack` CLI and openstacksdk against a
running `stackbox up`: create with --file, list, show, set, save (byte-identical),
members, delete; an SDK upload/download; a client cut off mid-upload."""

from __future__ import annotations

import hashlib
import socket
import time
import uuid
from pathlib import Path

import openstack
import openstack.config
import pytest

from stackbox import privileged
from tests.e2e.conftest import Running

ADMIN = ("--os-cloud", "stackbox")
DEMO = ("--os-cloud", "stackbox-demo")


def _qcow2(path: Path, mib: int = 4) -> Path:
    """A qcow2 of 64 MiB virtual size carrying `mib` MiB of data."""
    if not privileged.available("qemu-img"):
        pytest.skip("qemu-img not installed")
    raw = path.with_suffix(".raw")
    block = hashlib.sha512(b"stackbox").digest() * 16384  # 1 MiB, not all zeros
    with open(raw, "wb") as fh:
        for i in range(mib):
            fh.write(block[i:] + block[:i])
    privileged.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(path)])
    privileged.run(["qemu-img", "resize", "-f", "qcow2", str(path), "64M"])
    raw.unlink()
    return path


def _digest(path: Path, algo: str) -> str:
    return hashlib.new(algo, path.read_bytes()).hexdigest()


def test_image_cli_roundtrip(cloud_up: Running, tmp_path: Path) -> None:
    src = _qcow2(tmp_path / "disk.qcow2")
    name = f"cli-{uuid.uuid4().hex[:6]}"
    os_ = cloud_up.openstack_json
    created = os_(
        *ADMIN,
        "image", "create", "--file", str(src), "--disk-format", "qcow2",
        "--container-format", "bare", "--public", name,
    )  # fmt: skip
    assert created["name"] == name and created["status"] == "active"
    image_id = created["id"]
    assert name in {i["Name"] for i in os_(*ADMIN, "image", "list")}
    assert name in {i["Name"] for i in os_(*DEMO, "image", "list")}  # public
    shown = os_(*ADMIN, "image", "show", name)
    assert shown["checksum"] == _digest(src, "md5")
    assert shown["size"] == src.stat().st_size
    assert shown["virtual_size"] == 64 * 1024 * 1024
    props = shown["properties"]
    assert props["os_hash_algo"] == "sha512"
    assert props["os_hash_value"] == _digest(src, "sha512")

    cloud_up.openstack(*ADMIN, "image", "set", "--property", "color=blue", name)
    assert os_(*ADMIN, "image", "show", name)["properties"]["color"] == "blue"

    out = tmp_path / "out.qcow2"
    cloud_up.openstack(*ADMIN, "image", "save", "--file", str(out), name)
    assert out.read_bytes() == src.read_bytes()

    demo_project = os_(*DEMO, "token", "issue")["project_id"]
    shared = os_(*ADMIN, "image", "create", "--shared", "--disk-format", "raw", name + "-s")
    cloud_up.openstack(*ADMIN, "image", "add", "project", shared["id"], demo_project)
    members = os_(*ADMIN, "image", "member", "list", shared["id"])
    assert [(m["Member ID"], m["Status"]) for m in members] == [(demo_project, "pending")]
    assert name + "-s" not in {i["Name"] for i in os_(*DEMO, "image", "list")}
    cloud_up.openstack(*DEMO, "image", "set", "--accept", shared["id"])
    assert name + "-s" in {i["Name"] for i in os_(*DEMO, "image", "list")}

    for ref in (image_id, shared["id"]):
        cloud_up.openstack(*ADMIN, "image", "delete", ref)
    assert cloud_up.openstack(*ADMIN, "image", "show", image_id, check=False).returncode != 0
    assert not (cloud_up.state_dir / "images" / image_id).exists()


def _conn(running: Running) -> openstack.connection.Connection:
    cfg = openstack.config.OpenStackConfig(
        config_files=[str(running.state_dir / "clouds.yaml")], load_envvars=False
    )
    return openstack.connection.Connection(config=cfg.get_one(cloud="stackbox-demo"))


def test_sdk_upload_download(cloud_up: Running, tmp_path: Path) -> None:
    data = bytes(range(256)) * 4096 * 3  # 3 MiB
    src = tmp_path / "data.raw"
    src.write_bytes(data)
    conn = _conn(cloud_up)
    name = f"sdk-{uuid.uuid4().hex[:6]}"
    img = conn.image.create_image(
        name=name, filename=str(src), disk_format="raw", container_format="bare"
    )
    img = conn.image.get_image(img.id)
    assert img.status == "active" and img.checksum == hashlib.md5(data).hexdigest()
    assert img.hash_value == hashlib.sha512(data).hexdigest()
    out = tmp_path / "out.raw"
    conn.image.download_image(img, output=str(out))
    assert out.read_bytes() == data
    # The interoperable import (stage + glance-direct).
    staged = conn.image.create_image(
        name=name + "-i", data=data[:1000], disk_format="raw", container_format="bare",
        use_import=True,
    )  # fmt: skip
    staged = conn.image.get_image(staged.id)
    assert staged.status == "active" and staged.size == 1000
    for i in (img, staged):
        conn.image.delete_image(i)
    assert not (cloud_up.state_dir / "images" / img.id).exists()


def test_cut_off_upload_kills_the_image(cloud_up: Running) -> None:
    conn = _conn(cloud_up)
    img = conn.image.create_image(name="cut", disk_format="raw", container_format="bare")
    token = conn.session.get_token()
    with socket.create_connection(("127.0.0.1", cloud_up.port)) as sock:
        sock.sendall(
            (
                f"PUT /image/v2/images/{img.id}/file HTTP/1.1\r\nHost: x\r\n"
                f"X-Auth-Token: {token}\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: {10 << 20}\r\n\r\n"
            ).encode()
            + b"\0" * (1 << 20)
        )
        time.sleep(0.3)
    deadline = time.time() + 10
    while conn.image.get_image(img.id).status not in ("killed", "queued"):
        assert time.time() < deadline, "upload still running after the client left"
        time.sleep(0.1)
    images = cloud_up.state_dir / "images"
    assert not (images / img.id).exists()
    assert not list(images.glob(".tmp-*"))
    conn.image.delete_image(img)
