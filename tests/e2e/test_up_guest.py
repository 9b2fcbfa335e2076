"""`stackbox up` builds the test guest and uploads it as public images on first start,
and a restart does not upload them again."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.e2e.conftest import start


def test_first_start_uploads_stackbox_tiny(tmp_path: Path) -> None:
    state, home = tmp_path / "state", tmp_path / "home"
    running = start(state, home, extra_env={"STACKBOX_UP__TEST_GUEST": "true"}, timeout=300)
    try:
        log = "".join(running.output)
        if "test guest not available" in log:
            reason = next(line for line in running.output if "test guest not available" in line)
            pytest.skip(f"this host cannot build the test guest: {reason.strip()}")
        images = {
            i["Name"]: i
            for i in running.openstack_json(
                "--os-cloud", "stackbox-demo", "image", "list", "--long"
            )
        }
        assert {"stackbox-tiny", "stackbox-tiny-kernel", "stackbox-tiny-ramdisk"} <= set(images)
        tiny = running.openstack_json(
            "--os-cloud", "stackbox-demo", "image", "show", "stackbox-tiny"
        )
        assert tiny["visibility"] == "public" and tiny["status"] == "active"
        assert tiny["disk_format"] == "qcow2"
        disk = (state / "guest" / "stackbox-tiny.qcow2").read_bytes()
        assert tiny["checksum"] == hashlib.md5(disk).hexdigest()
    finally:
        assert running.stop() == 0
    again = start(state, home, extra_env={"STACKBOX_UP__TEST_GUEST": "true"}, timeout=300)
    try:
        names = [i["Name"] for i in again.openstack_json("--os-cloud", "stackbox", "image", "list")]
        assert names.count("stackbox-tiny") == 1
    finally:
        assert again.stop() == 0
