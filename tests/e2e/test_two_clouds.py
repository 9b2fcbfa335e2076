"""Two stackbox clouds on one libvirtd (real qemu:///system, TCG), both with the default
domain names (`sbx-{cloud}-%08x`, counted from 1 in each): the second cloud boots while
the first one's guest keeps running; a cloud whose state dir was wiped starts afresh,
boots, and `stackbox virt domains` lists its old guest as an orphan with the command that
removes it, which leaves every other guest alone. Skips where QEMU cannot run."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import conftest as e2e
from tests.e2e.conftest import BIN, Running

DEFAULT_NAMES = {"STACKBOX_COMPUTE__INSTANCE_NAME_TEMPLATE": "sbx-{cloud}-%08x"}


def _qemu_up(base: Path) -> Running:
    running = e2e.start(
        base / "state",
        base / "home",
        extra_env={
            **DEFAULT_NAMES,
            "STACKBOX_UP__TEST_GUEST": "true",
            "STACKBOX_COMPUTE__VIRT_URI": "auto",
            "STACKBOX_COMPUTE__VIRT_TYPE": "qemu",
            "STACKBOX_COMPUTE__SHUTDOWN_TIMEOUT": "5",
        },
        timeout=300,
    )
    log = "".join(running.output)
    if "test guest not available" in log or "qemu:///system" not in log:
        running.stop()
        e2e.remove_domains_of(base / "state")
        pytest.skip("QEMU or the test guest cannot run here: see stackbox up's log")
    return running


@pytest.fixture
def first(tmp_path: Path) -> Iterator[Running]:
    running = _qemu_up(tmp_path / "a")
    try:
        yield running
    finally:
        running.stop()
        e2e.remove_domains_of(running.state_dir)


def _boot(run: Running, name: str) -> dict:
    server = run.openstack_json(
        "--os-cloud",
        "stackbox",
        "server",
        "create",
        "--image",
        "stackbox-tiny",
        "--flavor",
        "m1.tiny",
        "--wait",
        name,
    )
    assert server["status"] == "ACTIVE", server
    return server


def _domain_of(run: Running, server: str) -> str:
    shown = run.openstack_json("--os-cloud", "stackbox", "server", "show", server)
    return str(shown["OS-EXT-SRV-ATTR:instance_name"])


def _virt_domains(run: Running) -> str:
    env = {**run.env, "STACKBOX_DEFAULT__STATE_DIR": str(run.state_dir)}
    r = subprocess.run(
        [str(BIN / "stackbox"), "virt", "domains"], env=env, text=True, capture_output=True
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def _state(run: Running, domain: str) -> str:
    r = subprocess.run(
        ["virsh", "-c", "qemu:///system", "domstate", domain], text=True, capture_output=True
    )
    return r.stdout.strip() or r.stderr.strip()


def test_second_and_wiped_clouds_boot_beside_the_first(first: Running, tmp_path: Path) -> None:
    a1 = _domain_of(first, _boot(first, "a1")["id"])
    base = tmp_path / "b"
    second = _qemu_up(base)
    try:
        b1 = _domain_of(second, _boot(second, "b1")["id"])
        assert a1 != b1 and a1.endswith("-00000001") and b1.endswith("-00000001")
        assert _state(first, a1) == "running"
        listed = _virt_domains(second)
        assert f"{b1} " in listed and "this cloud" in listed.split(b1, 1)[1].splitlines()[0]
        assert "another stackbox cloud" in listed.split(a1, 1)[1].splitlines()[0]
        a_line = next(line for line in listed.splitlines() if f" {a1} " in line)
        assert "(orphan)" not in a_line  # the first cloud runs: never an orphan
    finally:
        second.stop()
    # wipe the second cloud's state: its guest keeps running, marked by its old id
    shutil.rmtree(base / "state")
    again = _qemu_up(base)
    try:
        b1_new = _domain_of(again, _boot(again, "b1")["id"])
        assert b1_new.endswith("-00000001") and b1_new != b1
        listed = _virt_domains(again)
        old_line = next(line for line in listed.splitlines() if f" {b1} " in line)
        old_cloud = old_line.split("another stackbox cloud ", 1)[1].split()[0]
        assert "(orphan)" in old_line
        assert not [x for x in listed.splitlines() if x.startswith("orphans of") and a1 in x]
        command = f"stackbox virt remove-orphans --cloud {old_cloud} --uri qemu:///system"
        assert command in listed
        env = {**again.env, "STACKBOX_DEFAULT__STATE_DIR": str(again.state_dir)}
        r = subprocess.run(
            [str(BIN / "stackbox"), *command.split()[1:]], env=env, text=True, capture_output=True
        )
        assert r.returncode == 0 and f"removed {b1}" in r.stdout, r.stdout + r.stderr
        assert "failed to get domain" in _state(again, b1)
        assert _state(again, b1_new) == "running" and _state(first, a1) == "running"
    finally:
        again.stop()
        e2e.remove_domains_of(base / "state")
