"""openstacksdk against a running stackbox, and a restart that keeps everything."""

from __future__ import annotations

import uuid

import openstack
import openstack.config

from tests.e2e.conftest import Running, start


def _conn(running: Running, cloud: str = "stackbox") -> openstack.connection.Connection:
    cfg = openstack.config.OpenStackConfig(
        config_files=[str(running.state_dir / "clouds.yaml")], load_envvars=False
    )
    return openstack.connection.Connection(config=cfg.get_one(cloud=cloud))


def test_sdk_identity_roundtrip(cloud_up: Running) -> None:
    conn = _conn(cloud_up)
    name = f"sdk-{uuid.uuid4().hex[:6]}"
    project = conn.identity.create_project(name=name, description="from the sdk")
    assert conn.identity.get_project(project.id).description == "from the sdk"
    assert name in {p.name for p in conn.identity.projects()}
    demo = _conn(cloud_up, "stackbox-demo")
    assert demo.identity.get_project(demo.current_project_id).name == "demo"
    conn.identity.delete_project(project)


def test_restart_keeps_state(tmp_path) -> None:  # type: ignore[no-untyped-def]
    state, home = tmp_path / "state", tmp_path / "home"
    first = start(state, home)
    try:
        name = f"keep-{uuid.uuid4().hex[:6]}"
        first.openstack("--os-cloud", "stackbox", "project", "create", name)
        password = first.password("admin")
    finally:
        assert first.stop() == 0
    assert any("stopped" in line for line in first.output)
    second = start(state, home)
    try:
        assert second.password("admin") == password
        names = {
            p["Name"] for p in second.openstack_json("--os-cloud", "stackbox", "project", "list")
        }
        assert name in names
    finally:
        assert second.stop() == 0


def test_sdk_compute_find_image(cloud_up: Running) -> None:
    """openstacksdk's compute.find_image (what Ansible's server module asks): by name,
    through the image proxy's 404-then-list, and by id."""
    conn = _conn(cloud_up, "stackbox-demo")
    name = f"stackbox-tiny-{uuid.uuid4().hex[:6]}"
    image = conn.image.create_image(
        name=name, data=b"\0" * 4096, disk_format="raw", container_format="bare"
    )
    try:
        found = conn.compute.find_image(name, ignore_missing=False)
        assert (found.id, found.name) == (image.id, name)
        got = conn.compute.get_image(image.id)
        assert (got.status, got.progress, got.size) == ("ACTIVE", 100, 4096)
        assert image.id in {i.id for i in conn.compute.images(name=name)}
        assert conn.compute.find_image(f"missing-{uuid.uuid4().hex[:6]}") is None
    finally:
        conn.image.delete_image(image)
    assert conn.compute.find_image(name) is None
