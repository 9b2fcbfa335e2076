"""Bring up libvirtd (and virtlogd) on a host where nothing else does (no systemd).

`ensure_libvirtd()` returns at once when `virsh -c qemu:///system version` answers;
otherwise, as root, it prepares what the daemons need -- /var/log/libvirt and, when the
host has no `libvirt-qemu` user (libvirt-daemon-system not installed), that user (libvirtd
does not start without it) with QEMU set to run as root in /etc/libvirt/qemu.conf --
starts `virtlogd -d` and `libvirtd -d` and waits until virsh answers. Every command goes through
`stackbox.privileged`. Not here: domains, the libvirt-python connection (compute's `Host`).
"""

from __future__ import annotations

import os
import pwd
import re
import subprocess
import time
from pathlib import Path

from stackbox import privileged

QEMU_CONF = Path("/etc/libvirt/qemu.conf")
LOG_DIR = Path("/var/log/libvirt")
QEMU_USER = "libvirt-qemu"
PACKAGES = "qemu-system-x86 libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients"


class LibvirtUnavailable(RuntimeError):
    """libvirtd is not running and cannot be started here; the message says why."""


def _version(uri: str) -> str | None:
    if not privileged.available("virsh"):
        return None
    try:
        proc = privileged.virsh(["version"], uri=uri, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return " ".join(proc.stdout.decode(errors="replace").split())


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def qemu_conf_as_root(text: str) -> str:
    """text of qemu.conf with `user = "root"` and `group = "root"` set (idempotent:
    existing settings, commented or not, are replaced in place, else appended)."""
    for key in ("user", "group"):
        line = f'{key} = "root"'
        pattern = re.compile(rf"^[ \t]*#?[ \t]*{key}[ \t]*=.*$", re.MULTILINE)
        if re.search(rf"^{re.escape(line)}$", text, re.MULTILINE):
            continue
        active = re.compile(rf"^[ \t]*{key}[ \t]*=.*$", re.MULTILINE)
        if active.search(text):
            text = active.sub(line, text, count=1)
        elif pattern.search(text):
            text = pattern.sub(line, text, count=1)
        else:
            text = text + ("" if not text or text.endswith("\n") else "\n") + line + "\n"
    return text


def _prepare() -> None:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    if _has_user(QEMU_USER):
        return
    # libvirtd resolves its built-in default user before it reads qemu.conf, so the user
    # must exist even when qemu.conf says root (Debian's libvirt-daemon-system creates it;
    # that package is not installed here). QEMU then runs as root: no chown of disk files.
    privileged.add_system_user(QEMU_USER, home="/var/lib/libvirt")
    old = QEMU_CONF.read_text() if QEMU_CONF.exists() else ""
    new = qemu_conf_as_root(old)
    if new != old:
        QEMU_CONF.parent.mkdir(parents=True, exist_ok=True)
        tmp = QEMU_CONF.with_suffix(".conf.stackbox-tmp")
        tmp.write_text(new)
        os.replace(tmp, QEMU_CONF)


def ensure_libvirtd(uri: str = "qemu:///system", timeout: float = 20.0) -> str:
    """Make sure libvirtd answers on uri; return `virsh version`'s summary.

    Raises LibvirtUnavailable (with the reason) when it is down and cannot be started:
    not root, libvirt/QEMU packages missing, or the daemon does not come up in time.
    """
    if (found := _version(uri)) is not None:
        return found
    missing = [b for b in ("virsh", "libvirtd", "virtlogd") if not privileged.available(b)]
    if missing or not privileged.available("qemu-system-x86_64"):
        raise LibvirtUnavailable(
            f"libvirt/QEMU not installed (missing {', '.join(missing) or 'qemu-system-x86_64'});"
            f" install {PACKAGES} (etc/apt-packages.txt)"
        )
    if not uri.startswith("qemu:///system"):
        raise LibvirtUnavailable(
            f"libvirtd does not answer on {uri} (only qemu:///system is started here)"
        )
    if os.geteuid() != 0:
        raise LibvirtUnavailable(
            "libvirtd is not running and starting it needs root (no systemd here)"
        )
    _prepare()
    errors: list[str] = []
    for start in (privileged.start_virtlogd, privileged.start_libvirtd):
        try:
            start()
        except privileged.CommandError as exc:
            # a daemon that is already running (or starting, by someone else) refuses to
            # start twice; the wait below tells whether libvirtd is usable
            errors.append(str(exc))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := _version(uri)) is not None:
            return found
        time.sleep(0.25)
    raise LibvirtUnavailable(
        f"libvirtd did not answer on {uri} within {timeout:.0f} s"
        + (f" ({'; '.join(errors)})" if errors else "")
    )
