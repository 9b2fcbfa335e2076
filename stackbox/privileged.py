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
        "useradd",
        "virtlogd",
        "mkfs.vfat",
        "mkfs.ext4",
        "mkswap",
        "mcopy",
        "mmd",
        "mdir",
        "syslinux",
        "dpkg-deb",
        "apt-get",
        "apt-cache",
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


def qemu_img_info_shared(path: str | Path, fmt: str | None = None) -> dict[str, Any]:
    """`qemu-img info --force-share --output=json`: also works on the disk of a running
    guest, whose QEMU holds the image's write lock (plain `info` fails on it). fmt: read
    the file as that format instead of probing it (a raw image may look like qcow2)."""
    argv = ["qemu-img", "info", "--force-share", "--output=json"]
    argv += [*(["-f", fmt] if fmt else []), "--", str(path)]
    return json.loads(run(argv, timeout=60).stdout)


# -- guest image building (stackbox.guest.build) -------------------------------------


def apt_cache_show(packages: Sequence[str]) -> list[dict[str, str]]:
    """The candidate version's fields (Package, Version, Depends…) of each package, from
    one `apt-cache show` (each call parses the package lists: about a second)."""
    out = run(["apt-cache", "show", "--no-all-versions", *packages], timeout=60).stdout
    stanzas: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    key = ""
    for line in out.decode(errors="replace").splitlines():
        if not line.strip():
            if fields:
                stanzas.append(fields)
            fields, key = {}, ""
        elif line[0] in " \t" and key:
            fields[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    if fields:
        stanzas.append(fields)
    return stanzas


def apt_download(packages: Sequence[str], dest_dir: str | Path) -> None:
    """`apt-get download NAME=VERSION…` into dest_dir (fetch only; nothing is installed)."""
    run(["apt-get", "download", "-q", *packages], cwd=dest_dir, timeout=600)


def dpkg_deb_extract(deb: str | Path, dest_dir: str | Path) -> None:
    """Unpack a .deb's files under dest_dir (`dpkg-deb -x`; no maintainer scripts run)."""
    run(["dpkg-deb", "-x", "--", str(deb), str(dest_dir)], timeout=300)


def dpkg_deb_field(deb: str | Path, field: str) -> str:
    """One control field of a .deb (`dpkg-deb -f`)."""
    return run(["dpkg-deb", "-f", "--", str(deb), field], timeout=60).stdout.decode().strip()


def mkfs_vfat(path: str | Path, size_kib: int, label: str, volume_id: str) -> None:
    """Create the file `path` holding a FAT filesystem of size_kib KiB (no loop device)."""
    argv = ["mkfs.vfat", "-C", "-n", label, "-i", volume_id, "--", str(path), str(size_kib)]
    run(argv, timeout=60)


def mcopy(image: str | Path, sources: Sequence[str | Path], dest: str = "::/") -> None:
    """Copy host files into a FAT image file (mtools; no mount)."""
    run(["mcopy", "-o", "-i", str(image), *map(str, sources), dest], timeout=120)


def mcopy_out(image: str | Path, name: str, dest: str | Path) -> None:
    """Copy `::name` out of a FAT image file to the host path dest."""
    run(["mcopy", "-o", "-n", "-i", str(image), f"::{name}", str(dest)], timeout=120)


def mdir(image: str | Path) -> list[str]:
    """File names in the root directory of a FAT image file (`mdir -b`)."""
    out = run(["mdir", "-b", "-a", "-i", str(image), "::/"], timeout=60).stdout.decode()
    return [line.strip().removeprefix("::/") for line in out.splitlines() if line.strip()]


def syslinux_install(image: str | Path) -> None:
    """Make a FAT image file bootable with SYSLINUX (boot sector + ldlinux.sys/.c32)."""
    run(["syslinux", "--install", "--", str(image)], timeout=120)


def qemu_img_convert(
    src: str | Path,
    dst: str | Path,
    *,
    src_format: str = "raw",
    out_format: str = "qcow2",
    force_share: bool = False,
) -> None:
    """`qemu-img convert -f SRC_FORMAT -O OUT_FORMAT src dst` (the whole backing chain is
    read: the result stands alone). force_share adds `-U`, to read the disk of a running
    guest whose QEMU holds the image's write lock."""
    share = ["-U"] if force_share else []
    argv = ["qemu-img", "convert", *share, "-f", src_format, "-O", out_format]
    run([*argv, "--", str(src), str(dst)], timeout=1800)


# -- instance disks (stackbox.compute.disks) ------------------------------------------


def qemu_img_create(
    path: str | Path,
    fmt: str,
    size_bytes: int | None = None,
    *,
    backing_file: str | Path | None = None,
    backing_format: str | None = None,
) -> None:
    """`qemu-img create -f FMT [-b BACKING -F BACKING_FORMAT] path [SIZE]`: a new image,
    or a copy-on-write overlay of backing_file (its size when size_bytes is None)."""
    argv = ["qemu-img", "create", "-q", "-f", fmt]
    if backing_file is not None:
        if not backing_format:
            raise ValueError("an overlay needs the backing file's format")
        argv += ["-b", str(backing_file), "-F", backing_format]
    elif size_bytes is None:
        raise ValueError("an image without a backing file needs a size")
    argv += ["--", str(path)]
    if size_bytes is not None:
        argv.append(str(int(size_bytes)))
    run(argv, timeout=120)


def qemu_img_resize(path: str | Path, size_bytes: int, *, fmt: str = "qcow2") -> None:
    """`qemu-img resize -f FMT path SIZE` (grow; shrinking is refused by qemu-img)."""
    run(["qemu-img", "resize", "-q", "-f", fmt, "--", str(path), str(int(size_bytes))], timeout=120)


def mkfs_ext4(path: str | Path, label: str = "") -> None:
    """Format the file `path` (a raw image) as ext4 (`mkfs.ext4 -F`; no loop device)."""
    argv = ["mkfs.ext4", "-F", "-q", *(["-L", label] if label else []), "--", str(path)]
    run(argv, timeout=600)


def mkswap(path: str | Path, label: str = "") -> None:
    """Write a swap signature into the file `path` (a raw image)."""
    run(["mkswap", *(["-L", label] if label else []), "--", str(path)], timeout=120)


# -- libvirt (stackbox.virt.daemon and tests) ----------------------------------------


def virsh(
    args: Sequence[str], *, uri: str = "qemu:///system", timeout: float = 60, check: bool = True
) -> subprocess.CompletedProcess:
    """`virsh -c URI ARGS…` (argv list, no shell)."""
    return run(["virsh", "-c", uri, *args], timeout=timeout, check=check)


def start_virtlogd() -> None:
    """Start the libvirt log daemon in the background (`virtlogd -d`)."""
    run(["virtlogd", "-d"], timeout=30)


def add_system_user(name: str, home: str = "/nonexistent") -> None:
    """Create a system user with a group of the same name, no login, no home directory."""
    argv = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", home]
    run([*argv, "--shell", "/usr/sbin/nologin", "--", name], timeout=60)


def start_libvirtd() -> None:
    """Start the libvirt daemon in the background (`libvirtd -d`)."""
    run(["libvirtd", "-d"], timeout=60)
