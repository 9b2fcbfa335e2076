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
