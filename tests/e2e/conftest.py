"""A real `stackbox up` in a subprocess (random port, temp state dir, temp HOME), and
helpers to drive it with the unmodified `openstack` CLI."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Running:
    proc: subprocess.Popen
    port: int
    state_dir: Path
    home: Path
    env: dict[str, str]
    output: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def password(self, user: str) -> str:
        return (self.state_dir / f"{user}-password").read_text().strip()

    def openstack(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run(
            [str(BIN / "openstack"), *args],
            env=self.env,
            text=True,
            capture_output=True,
            timeout=120,
        )
        if check and r.returncode != 0:
            raise AssertionError(f"openstack {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
        return r

    def openstack_json(self, *args: str) -> object:
        return json.loads(self.openstack(*args, "-f", "json").stdout)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


def start(
    state_dir: Path,
    home: Path,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
    timeout: float = 60,
) -> Running:
    port = port or free_port()
    env = {
        **os.environ,
        "HOME": str(home),
        "STACKBOX_IDENTITY__PASSWORD_HASH_MEMORY_KIB": "8192",
        "PYTHONUNBUFFERED": "1",
        "STACKBOX_UP__TEST_GUEST": "false",
        # libvirt's own test hypervisor unless a test asks for QEMU
        "STACKBOX_COMPUTE__VIRT_URI": "test:///default",
        # clouds of several tests may share libvirtd: domain names of their own
        "STACKBOX_COMPUTE__INSTANCE_NAME_TEMPLATE": (
            f"sbx-{hashlib.sha1(str(state_dir).encode()).hexdigest()[:8]}-%08x"
        ),
        **(extra_env or {}),
    }
    env.pop("OS_CLOUD", None)
    env.pop("STACKBOX_CONFIG", None)
    proc = subprocess.Popen(
        [
            str(BIN / "stackbox"),
            "up",
            "--state-dir",
            str(state_dir),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    deadline = time.time() + timeout
    assert proc.stdout is not None
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output.append(line)
        if "ready" in line and "stackbox:" in line:
            break
    else:
        proc.kill()
        raise AssertionError("stackbox up did not get ready:\n" + "".join(output))
    if proc.poll() is not None:
        raise AssertionError("stackbox up exited:\n" + "".join(output))
    # Keep draining output so the pipe never fills up.
    import threading

    def drain() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            output.append(line)

    threading.Thread(target=drain, daemon=True).start()
    return Running(proc, port, state_dir, home, env, output)


@pytest.fixture(scope="session")
def cloud_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    base = tmp_path_factory.mktemp("up")
    running = start(base / "state", base / "home")
    yield running
    running.stop()


def remove_domains_of(state_dir: Path) -> None:
    """Never leave guests on the shared libvirtd, even when a test fails: remove the
    domains whose files are under `state_dir` (their names would collide with the next
    cloud's)."""
    try:
        import libvirt

        conn = libvirt.open("qemu:///system")
    except Exception:  # no libvirt here: nothing can be left
        return
    try:
        for dom in conn.listAllDomains():
            try:
                if str(state_dir) not in dom.XMLDesc(0):
                    continue
                if dom.isActive():
                    dom.destroy()
                dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
            except libvirt.libvirtError:
                continue  # gone meanwhile (ours or another cloud's)
    finally:
        conn.close()


def qemu_cloud(base: Path) -> Iterator[Running]:
    """A `stackbox up` on real QEMU (TCG) with the test guest, for a module fixture;
    skips, saying why, where the guest cannot be built or QEMU cannot run."""
    running = start(
        base / "state",
        base / "home",
        extra_env={
            "STACKBOX_UP__TEST_GUEST": "true",
            "STACKBOX_COMPUTE__VIRT_URI": "auto",
            "STACKBOX_COMPUTE__VIRT_TYPE": "qemu",
            "STACKBOX_COMPUTE__SHUTDOWN_TIMEOUT": "20",
        },
        timeout=300,
    )
    log = "".join(running.output)
    try:
        if "test guest not available" in log:
            pytest.skip("this host cannot build the test guest: see stackbox up's log")
        if "compute uses libvirt test driver" in log or "qemu:///system" not in log:
            line = next((x for x in running.output if "compute uses" in x), "no line")
            pytest.skip(f"QEMU cannot run here: {line.strip()}")
        yield running
    finally:
        running.stop()
        remove_domains_of(base / "state")
