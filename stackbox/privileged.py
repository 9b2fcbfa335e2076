"""The one place stackbox runs host commands (qemu-img, ip, iptables, dnsmasq, virsh…).

Every command is an argv list run without a shell, from an allow-list of binaries,
with a timeout; arguments that come from users are passed as separate list items,
never interpolated into a string. Add a typed helper here for each new operation
(e.g. `qemu_img_info`) rather than calling `subprocess` elsewhere.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)

ALLOWED = frozenset(
    {
        "qemu-img",
        "ip",
        "iptables",
        "iptables-save",
        "iptables-restore",
        "ip6tables",
        "dnsmasq",
        "virsh",
        "libvirtd",
        "virtlogd",
        "mkfs.vfat",
        "mcopy",
        "mmd",
        "syslinux",
        "dpkg-deb",
        "apt-get",
        "cpio",
        "gzip",
        "sysctl",
        "modprobe",
        "brctl",
        "xorriso",
        "genisoimage",
        "kill",
    }
)


class CommandError(RuntimeError):
    """A host command failed; carries argv, exit status and stderr."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv, self.returncode, self.stderr = list(argv), returncode, stderr
        super().__init__(f"{argv[0]} exited with {returncode}: {stderr.strip()[:500]}")


def available(binary: str) -> bool:
    return shutil.which(binary) is not None


def run(
    argv: Sequence[str],
    *,
    timeout: float = 120,
    input: bytes | None = None,
    check: bool = True,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess:
    """Run an allow-listed binary with arguments as a list (no shell)."""
    if not argv or argv[0] not in ALLOWED:
        raise ValueError(f"command not allowed: {argv[:1]}")
    if any(not isinstance(a, str) for a in argv):
        raise TypeError("every argument must be a str")
    LOG.debug("run %s", argv)
    proc = subprocess.run(
        list(argv), capture_output=True, timeout=timeout, input=input, cwd=cwd, check=False
    )
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stderr.decode(errors="replace"))
    return proc


def qemu_img_info(path: str | Path) -> dict[str, Any]:
    """`qemu-img info --output=json` of a file (format, virtual-size, backing file…)."""
    out = run(["qemu-img", "info", "--output=json", "--", str(path)], timeout=60).stdout
    return json.loads(out)


def qemu_img_info_shared(path: str | Path) -> dict[str, Any]:
    """`qemu-img info --force-share --output=json`: also works on the disk of a running
    guest, whose QEMU holds the image's write lock (plain `info` fails on it)."""
    argv = ["qemu-img", "info", "--force-share", "--output=json", "--", str(path)]
    return json.loads(run(argv, timeout=60).stdout)
