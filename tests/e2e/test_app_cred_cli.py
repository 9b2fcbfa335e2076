"""Application credentials through the unmodified `openstack` CLI: create, list, show
and delete them, then use one from a clouds.yaml with `auth_type:
v3applicationcredential` (by id, and by name and user), with access rules limiting
what it may call."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import yaml

from tests.e2e.conftest import BIN, Running

DEMO = ("--os-cloud", "stackbox-demo")


def _clouds_file(cloud_up: Running, path: Path, **auths: dict) -> dict[str, str]:
    """A clouds.yaml with one application-credential cloud per entry of `auths`; the
    environment that makes the CLI read it."""
    ours = yaml.safe_load((cloud_up.state_dir / "clouds.yaml").read_text())["clouds"]
    demo = ours["stackbox-demo"]
    clouds = {
        name: {
            "auth_type": "v3applicationcredential",
            "auth": {"auth_url": demo["auth"]["auth_url"], **auth},
            "region_name": demo.get("region_name", "RegionOne"),
            "identity_api_version": 3,
        }
        for name, auth in auths.items()
    }
    path.write_text(yaml.safe_dump({"clouds": clouds}))
    return {**cloud_up.env, "OS_CLIENT_CONFIG_FILE": str(path)}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The CLI with the application-credential clouds.yaml (never raises)."""
    return subprocess.run(
        [str(BIN / "openstack"), *args], env=env, text=True, capture_output=True, timeout=120
    )


def test_app_cred_lifecycle_and_auth(cloud_up: Running, tmp_path: Path) -> None:
    name = f"ci-{uuid.uuid4().hex[:6]}"
    cred = cloud_up.openstack_json(
        *DEMO, "application", "credential", "create", "--description", "for ci", name
    )
    assert cred["Secret"] and cred["Name"] == name and cred["Unrestricted"] is False
    assert {r["name"] for r in cred["Roles"]} == {"member", "reader"}
    demo_tok = cloud_up.openstack_json(*DEMO, "token", "issue")
    assert cred["Project ID"] == demo_tok["project_id"]
    listed = cloud_up.openstack_json(*DEMO, "application", "credential", "list")
    assert name in {x["Name"] for x in listed}
    shown = cloud_up.openstack_json(*DEMO, "application", "credential", "show", name)
    assert shown["ID"] == cred["ID"] and not shown.get("Secret")

    demo_user = cloud_up.openstack_json(*DEMO, "token", "issue")["user_id"]
    env = _clouds_file(
        cloud_up,
        tmp_path / "clouds.yaml",
        byid={
            "application_credential_id": cred["ID"],
            "application_credential_secret": cred["Secret"],
        },
        byname={
            "application_credential_name": name,
            "application_credential_secret": cred["Secret"],
            "user_id": demo_user,
        },
    )
    for cloud in ("byid", "byname"):
        r = _run(env, "--os-cloud", cloud, "token", "issue", "-f", "json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["project_id"] == demo_tok["project_id"]
    assert _run(env, "--os-cloud", "byid", "server", "list").returncode == 0
    assert _run(env, "--os-cloud", "byid", "image", "list").returncode == 0
    # A restricted credential cannot make more credentials.
    r = _run(env, "--os-cloud", "byid", "application", "credential", "create", "x")
    assert r.returncode != 0 and "403" in r.stderr

    cloud_up.openstack(*DEMO, "application", "credential", "delete", name)
    r = _run(env, "--os-cloud", "byid", "token", "issue")
    assert r.returncode != 0 and "401" in r.stderr


def test_access_rules_limit_the_cli(cloud_up: Running, tmp_path: Path) -> None:
    name = f"ro-{uuid.uuid4().hex[:6]}"
    rules = [{"service": "image", "method": "GET", "path": "/v2/images"}]
    cred = cloud_up.openstack_json(
        *DEMO, "application", "credential", "create", "--access-rules", json.dumps(rules), name
    )
    env = _clouds_file(
        cloud_up,
        tmp_path / "clouds.yaml",
        ro={
            "application_credential_id": cred["ID"],
            "application_credential_secret": cred["Secret"],
        },
    )
    assert _run(env, "--os-cloud", "ro", "image", "list").returncode == 0
    r = _run(env, "--os-cloud", "ro", "server", "list")
    assert r.returncode != 0 and "401" in r.stderr
    access = cloud_up.openstack_json(*DEMO, "access", "rule", "list")
    assert {"image"} <= {x["Service"] for x in access}
    cloud_up.openstack(*DEMO, "application", "credential", "delete", name)
