"""The busybox initramfs of the test guest: a gzip'd newc cpio written in pure Python.

Contents: /bin/busybox with one symlink per applet that init.sh uses, the kernel modules
it loads (with their dependencies, read from each module's `.modinfo`: Debian's package
ships no modules.dep, depmod runs at install time), /etc/modules (the load order), /init,
the udhcpc script, the acpid power-button action and /dev/console + /dev/null (the kernel
opens /dev/console for init before devtmpfs is mounted).

The archive is deterministic (mtime 0, fixed inode numbers) so equal inputs give equal
bytes. Not here: fetching packages (`debs.py`), the disk image (`build.py`).
"""

from __future__ import annotations

import gzip
import lzma
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

# Loaded in this order (dependencies first, see resolve_modules). The virtio stack as
# Debian's cloud kernel needs it; then the config drive on an IDE/SCSI cdrom or a virtio
# disk (ISO 9660); then the ACPI power button (an input device read by acpid).
MODULES = (
    "virtio_ring",
    "virtio",
    "virtio_pci_modern_dev",
    "virtio_pci_legacy_dev",
    "virtio_pci",
    "failover",
    "net_failover",
    "virtio_net",
    "virtio_blk",
    "virtio_scsi",
    "ata_piix",
    "sr_mod",
    "isofs",
    "button",
    "evdev",
)

# Applets init.sh and the udhcpc script call (each gets a /bin symlink).
APPLETS = (
    "sh", "acpid", "cat", "chmod", "cp", "echo", "findfs", "head", "hostname", "insmod",
    "ip", "ls", "mkdir", "mount", "nc", "poweroff", "sed", "awk", "sleep", "sync",
    "timeout", "udhcpc", "umount", "wget", "grep", "tr",
)  # fmt: skip


class InitramfsError(RuntimeError):
    """A module or applet the guest needs is missing from the Debian packages."""


@dataclass
class Cpio:
    """A newc ("070701") cpio archive built in memory."""

    parts: list[bytes] = field(default_factory=list)
    _ino: int = 1

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)):
        encoded = name.lstrip("/").encode() + b"\0"
        header = "070701" + "".join(
            f"{v:08x}"
            for v in (
                self._ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
                len(encoded), 0,
            )
        )  # fmt: skip
        self._ino += 1
        head = header.encode() + encoded
        self.parts += [head, b"\0" * (-len(head) % 4), data, b"\0" * (-len(data) % 4)]

    def dir(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        data = b"".join(self.parts)
        return data + b"\0" * (-len(data) % 512)


def read_cpio(data: bytes) -> dict[str, tuple[int, bytes]]:
    """name -> (mode, data) of a newc archive (gzip'd or not); for tests and checks."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    out: dict[str, tuple[int, bytes]] = {}
    pos = 0
    while data[pos : pos + 6] == b"070701":
        fields = [int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name_start = pos + 110
        name = data[name_start : name_start + namesize - 1].decode()
        body = name_start + namesize + (-(110 + namesize) % 4)
        if name == "TRAILER!!!":
            break
        out[name] = (mode, data[body : body + size])
        pos = body + size + (-size % 4)
    return out


def modinfo(ko: bytes) -> dict[str, str]:
    """The `.modinfo` section (key=value strings) of a kernel module (64-bit ELF)."""
    if ko[:4] != b"\x7fELF" or ko[4] != 2:
        raise InitramfsError("not a 64-bit ELF kernel module")
    endian = "<" if ko[5] == 1 else ">"
    (shoff,) = struct.unpack_from(endian + "Q", ko, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from(endian + "HHH", ko, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        name, _t, _f, _a, off, size = struct.unpack_from(
            endian + "IIQQQQ", ko, shoff + i * shentsize
        )
        return name, off, size

    _n, stroff, _s = section(shstrndx)
    for i in range(shnum):
        name_off, off, size = section(i)
        end = ko.index(b"\0", stroff + name_off)
        if ko[stroff + name_off : end] == b".modinfo":
            info: dict[str, str] = {}
            for item in ko[off : off + size].split(b"\0"):
                key, sep, value = item.decode(errors="replace").partition("=")
                if sep:
                    info.setdefault(key, value)
            return info
    return {}


def _module_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".ko.xz"):
        return lzma.decompress(data)
    if path.name.endswith(".ko.gz"):
        return gzip.decompress(data)
    if path.name.endswith(".ko.zst"):
        raise InitramfsError(f"{path.name}: zstd-compressed modules are not supported")
    return data


def _index(moddir: Path) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for path in sorted(moddir.rglob("*.ko*")):
        name = path.name.split(".ko", 1)[0]
        index[name] = index[name.replace("-", "_")] = path
    return index


def resolve_modules(moddir: Path, wanted: tuple[str, ...] = MODULES) -> list[tuple[str, bytes]]:
    """(name, uncompressed .ko) of the wanted modules and their dependencies, each after
    what it depends on; modules built into the kernel (modules.builtin) are left out."""
    builtin = {
        Path(line).name.split(".ko", 1)[0].replace("-", "_")
        for line in (moddir / "modules.builtin").read_text().split()
    }
    index = _index(moddir)
    order: list[tuple[str, bytes]] = []
    seen: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        key = name.replace("-", "_")
        if key in seen or key in builtin:
            return
        if key not in index:
            raise InitramfsError(f"kernel module {name} (needed by {chain or 'init'}) missing")
        seen.add(key)
        data = _module_bytes(index[key])
        for dep in filter(None, modinfo(data).get("depends", "").split(",")):
            visit(dep, (*chain, key))
        order.append((key, data))

    for name in wanted:
        visit(name, ())
    return order


def check_applets(busybox: bytes, applets: tuple[str, ...] = APPLETS) -> None:
    """Raise InitramfsError if the busybox binary lacks an applet init.sh uses."""
    missing = [a for a in applets if b"\0" + a.encode() + b"\0" not in busybox]
    if missing:
        raise InitramfsError("busybox lacks applets: " + ", ".join(missing))


ACPI_POWER = b"#!/bin/sh\n# acpid: ACPI power button pressed (virsh shutdown)\nsync\npoweroff -f\n"


def build(
    *,
    busybox: bytes,
    modules: list[tuple[str, bytes]],
    init: bytes,
    dhcp_script: bytes,
    kernel_version: str,
) -> bytes:
    """The gzip'd initramfs (deterministic bytes for equal inputs)."""
    check_applets(busybox)
    cpio = Cpio()
    for d in ("bin", "sbin", "dev", "etc", "etc/acpi", "etc/acpi/PWRF", "lib", "lib/modules",
              "mnt", "mnt/config", "proc", "root", "run", "sys", "tmp", "var"):  # fmt: skip
        cpio.dir(d)
    cpio.chardev("dev/console", 5, 1)
    cpio.chardev("dev/null", 1, 3, 0o666)
    cpio.symlink("var/run", "../run")
    cpio.file("bin/busybox", busybox, 0o755)
    for applet in APPLETS:
        cpio.symlink(f"bin/{applet}", "busybox")
    for name, data in modules:
        cpio.file(f"lib/modules/{name}.ko", data)
    cpio.file("etc/modules", "".join(f"{name}\n" for name, _ in modules).encode())
    cpio.file("etc/kernel-version", kernel_version.encode() + b"\n")
    cpio.file("etc/udhcpc.script", dhcp_script, 0o755)
    cpio.file("etc/acpi/PWRF/00000080", ACPI_POWER, 0o755)
    cpio.file("bin/ssh-banner", b"#!/bin/sh\necho SSH-2.0-stackbox-guest\n", 0o755)
    cpio.file("init", init, 0o755)
    return gzip.compress(cpio.finish(), compresslevel=9, mtime=0)
