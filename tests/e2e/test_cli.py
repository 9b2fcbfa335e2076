"""The README's first commands, through the unmodified `openstack` CLI."""

from __future__ import annotations

import uuid

import yaml

from tests.e2e.conftest import Running


def test_clouds_yaml_written_and_merged(cloud_up: Running) -> None:
    ours = yaml.safe_load((cloud_up.state_dir / "clouds.yaml").read_text())["clouds"]
    assert set(ours) == {"stackbox", "stackbox-demo"}
    assert (cloud_up.state_dir / "clouds.yaml").stat().st_mode & 0o077 == 0
    merged = yaml.safe_load((cloud_up.home / ".config/openstack/clouds.yaml").read_text())
    assert merged["clouds"]["stackbox"]["auth"]["auth_url"] == f"{cloud_up.url}/identity"
    assert (cloud_up.state_dir / "admin-password").stat().st_mode & 0o777 == 0o600


def test_token_issue_and_catalog(cloud_up: Running) -> None:
    tok = cloud_up.openstack_json("--os-cloud", "stackbox", "token", "issue")
    assert tok["id"] and tok["user_id"] and tok["project_id"]
    cat = cloud_up.openstack_json("--os-cloud", "stackbox", "catalog", "list")
    assert {"identity", "compute", "image", "network", "block-storage"} <= {c["Type"] for c in cat}
    demo = cloud_up.openstack_json("--os-cloud", "stackbox-demo", "token", "issue")
    assert demo["project_id"] != tok["project_id"]


def test_project_user_role_and_policy(cloud_up: Running) -> None:
    p, u, pw = f"p1-{uuid.uuid4().hex[:6]}", f"u1-{uuid.uuid4().hex[:6]}", "s3cret-Pw!"
    admin = ("--os-cloud", "stackbox")
    project = cloud_up.openstack_json(*admin, "project", "create", p)
    assert project["name"] == p
    user = cloud_up.openstack_json(*admin, "user", "create", "--project", p, "--password", pw, u)
    assert user["name"] == u and "password" not in user
    cloud_up.openstack(*admin, "role", "add", "--project", p, "--user", u, "member")
    as_u1 = (
        "--os-auth-url",
        f"{cloud_up.url}/identity",
        "--os-username",
        u,
        "--os-password",
        pw,
        "--os-project-name",
        p,
        "--os-user-domain-name",
        "Default",
        "--os-project-domain-name",
        "Default",
        "--os-identity-api-version",
        "3",
    )
    tok = cloud_up.openstack_json(*as_u1, "token", "issue")
    assert tok["project_id"] == project["id"]
    r = cloud_up.openstack(*as_u1, "user", "list", check=False)
    assert r.returncode != 0 and "403" in r.stderr
    bad = list(as_u1)
    bad[bad.index("--os-password") + 1] = "wrong"
    r = cloud_up.openstack(*bad, "token", "issue", check=False)
    assert r.returncode != 0 and "401" in r.stderr
