"""Quotas through the unmodified `openstack` CLI against a running `stackbox up`:
`openstack quota set --instances 2 PROJECT`, `openstack quota show`, and a
third server refused with Nova's 403. The project is a fresh one (the session cloud's
"demo" project is shared with the other end-to-end tests)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Running

ADMIN = ("--os-cloud", "stackbox")


def _member(cloud: Running) -> tuple[str, tuple[str, ...]]:
    """A new project with a member of its own; (project, CLI options acting as them)."""
    tag = uuid.uuid4().hex[:6]
    project, user, password = f"quota-{tag}", f"quser-{tag}", f"pw-{uuid.uuid4().hex}"
    cloud.openstack(*ADMIN, "project", "create", project)
    cloud.openstack(*ADMIN, "user", "create", "--password", password, user)
    cloud.openstack(*ADMIN, "role", "add", "--project", project, "--user", user, "member")
    who = (
        "--os-cloud", "stackbox-demo", "--os-project-name", project,
        "--os-username", user, "--os-password", password,
    )  # fmt: skip
    return project, who


def _image(cloud: Running, tmp: Path) -> str:
    path = tmp / "small.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)
    name = f"small-{uuid.uuid4().hex[:6]}"
    cloud.openstack(*ADMIN, "image", "create", "--file", str(path), "--disk-format", "qcow2",
                    "--container-format", "bare", "--public", name)  # fmt: skip
    return name


def test_quota_set_show_and_third_server_refused(cloud_up: Running, tmp_path: Path) -> None:
    project, who = _member(cloud_up)
    image = _image(cloud_up, tmp_path)
    cloud_up.openstack(*ADMIN, "quota", "set", "--instances", "2", project)
    shown: Any = cloud_up.openstack_json(*ADMIN, "quota", "show", "--compute", project)
    limits = {r["Resource"]: r["Limit"] for r in shown}
    assert limits["instances"] == 2, limits
    names = [f"q{i}-{uuid.uuid4().hex[:4]}" for i in range(3)]
    try:
        for name in names[:2]:
            cloud_up.openstack(*who, "server", "create", "--flavor", "m1.tiny", "--image",
                               image, "--nic", "none", name)  # fmt: skip
        r = cloud_up.openstack(*who, "server", "create", "--flavor", "m1.tiny", "--image",
                               image, "--nic", "none", names[2], check=False)  # fmt: skip
        assert r.returncode != 0
        assert "Quota exceeded for instances: Requested 1, but already used 2 of 2 instances" in (
            r.stderr
        )
        assert "403" in r.stderr
        # the project's member sees its own quota and usage (compute; the volume API
        # has no quotas yet, so plain `quota show` / `limits show` would 404 there)
        mine: Any = cloud_up.openstack_json(*who, "quota", "show", "--compute", "--usage")
        by_name = {row["Resource"]: row for row in mine}
        assert by_name["instances"]["Limit"] == 2, by_name
        assert by_name["instances"]["In Use"] == 2, by_name
    finally:
        for name in names[:2]:
            cloud_up.openstack(*who, "server", "delete", "--wait", name, check=False)
        cloud_up.openstack(*ADMIN, "image", "delete", image, check=False)
