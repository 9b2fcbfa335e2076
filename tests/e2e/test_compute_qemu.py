"""The test guest on real QEMU (TCG) through the unmodified `openstack` CLI: boot with
--wait, the guest's ready line (carrying its own instance id, read from the config drive)
in `console log show`, the seed-004 shape in `virsh dumpxml`, reboot, stop/start,
rescue/unrescue (each booting to the ready line), snapshot, resize/confirm and delete,
and nothing left behind. Skips, saying why, where QEMU or the test guest cannot run."""

from __future__ import annotations

import sqlite3
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import conftest as e2e
from tests.e2e.conftest import Running

READY = "stackbox-guest: ready instance="
BOOT_WAIT = 240


@pytest.fixture(scope="module")
def qemu_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    yield from e2e.qemu_cloud(tmp_path_factory.mktemp("qemu"))


def _cli(running: Running, *args: str) -> str:
    return running.openstack("--os-cloud", "stackbox", *args).stdout


def _console_until(running: Running, server: str, text: str, wait: float) -> str:
    deadline = time.time() + wait
    out = ""
    while time.time() < deadline:
        out = _cli(running, "console", "log", "show", server)
        if text in out:
            return out
        time.sleep(2)
    raise AssertionError(f"{text!r} not on the console after {wait}s:\n{out[-3000:]}")


def _status(running: Running, server: str) -> str:
    return str(running.openstack_json("--os-cloud", "stackbox", "server", "show", server)["status"])


def _wait_status(running: Running, server: str, status: str, wait: float = 120) -> None:
    deadline = time.time() + wait
    while time.time() < deadline:
        if _status(running, server) == status:
            return
        time.sleep(1)
    raise AssertionError(f"{server} not {status} after {wait}s (is {_status(running, server)})")


def _first_disk(sid: str) -> str:
    xml = subprocess.run(
        ["virsh", "-c", "qemu:///system", "dumpxml", sid],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    source = ET.fromstring(xml).find("devices/disk/source")
    return Path(source.get("file", "") if source is not None else "").name


def _rescue_and_back(run: Running, server: str, sid: str) -> None:
    """Rescue boots the guest from disk.rescue (an overlay of its own image) to its ready
    line; unrescue boots it from its own disk again. QEMU truncates the console log at
    each start, so a ready line after the status change is the new boot's."""
    t0 = time.time()
    _cli(run, "server", "rescue", server)
    _wait_status(run, server, "RESCUE")
    assert _first_disk(sid) == "disk.rescue"
    _console_until(run, server, f"{READY}{sid}", BOOT_WAIT)
    _cli(run, "server", "unrescue", server)
    _wait_status(run, server, "ACTIVE")
    assert _first_disk(sid) == "disk"
    _console_until(run, server, f"{READY}{sid}", BOOT_WAIT)
    print(f"rescue and unrescue, each to ready: {time.time() - t0:.1f}s")


def test_tiny_guest_life_on_qemu(qemu_cloud: Running, tmp_path: Path) -> None:
    run = qemu_cloud
    _cli(run, "keypair", "create", "k")
    t0 = time.time()
    created = run.openstack_json(
        "--os-cloud",
        "stackbox",
        "server",
        "create",
        "--image",
        "stackbox-tiny",
        "--flavor",
        "m1.tiny",
        "--key-name",
        "k",
        "--wait",
        "s1",
    )
    assert created["status"] == "ACTIVE", created
    sid = created["id"]
    _console_until(run, "s1", f"{READY}{sid}", BOOT_WAIT)
    print(f"boot to ready: {time.time() - t0:.1f}s")

    xml = subprocess.run(
        ["virsh", "-c", "qemu:///system", "dumpxml", sid],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    dom = ET.fromstring(xml)
    assert dom.get("type") == "qemu" and dom.findtext("uuid") == sid
    for path in (
        "metadata",
        "sysinfo",
        "os/type",
        "os/boot",
        "features/acpi",
        "features/apic",
        "clock",
        "cpu/topology",
        "devices/disk/target[@bus='virtio']",
        "devices/serial[@type='file']",
        "devices/serial[@type='pty']",
        "devices/graphics[@type='vnc']",
        "devices/memballoon/stats",
    ):
        assert dom.find(path) is not None, f"no {path} in the domain XML"

    _cli(run, "server", "reboot", "--hard", "--wait", "s1")
    _cli(run, "server", "stop", "s1")
    _wait_status(run, "s1", "SHUTOFF")
    _cli(run, "server", "start", "s1")
    _wait_status(run, "s1", "ACTIVE")
    for action, status in (
        ("pause", "PAUSED"),
        ("unpause", "ACTIVE"),
        ("suspend", "SUSPENDED"),
        ("resume", "ACTIVE"),
    ):
        _cli(run, "server", action, "s1")
        _wait_status(run, "s1", status)
    _rescue_and_back(run, "s1", sid)
    _cli(run, "server", "image", "create", "--name", "s1-snap", "--wait", "s1")
    snap = run.openstack_json("--os-cloud", "stackbox", "image", "show", "s1-snap")
    assert snap["status"] == "active"
    _cli(run, "server", "resize", "--flavor", "m1.small", "--wait", "s1")
    _wait_status(run, "s1", "VERIFY_RESIZE")
    _cli(run, "server", "resize", "confirm", "s1")
    _wait_status(run, "s1", "ACTIVE")
    shown = run.openstack_json("--os-cloud", "stackbox", "server", "show", "s1")
    assert "m1.small" in str(shown["flavor"])

    _cli(run, "server", "delete", "--wait", "s1")
    domains = subprocess.run(
        ["virsh", "-c", "qemu:///system", "list", "--all", "--uuid"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert sid not in domains
    assert not (run.state_dir / "instances" / sid).exists()
    with sqlite3.connect(f"file:{run.state_dir / 'stackbox.db'}?mode=ro", uri=True) as db:
        left = db.execute(
            "SELECT count(*) FROM allocations WHERE consumer_id LIKE ?", (f"%{sid}",)
        ).fetchone()[0]
    assert left == 0
