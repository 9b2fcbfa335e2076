"""Debian packages the test guest is made of: resolve, download (cached), unpack.

Packages are fetched with `apt-get download` into a cache directory and unpacked with
`dpkg-deb -x`: nothing is installed on the host (the kernel package in particular never
is). Which kernel: the one `linux-image-cloud-amd64` currently depends on.

Not here: building the initramfs or the disk (`initramfs.py`, `build.py`).
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from pathlib import Path

from stackbox import privileged

KERNEL_META = "linux-image-cloud-amd64"
BUSYBOX = "busybox-static"
HOST_TOOLS = {
    "apt-get": "apt",
    "apt-cache": "apt",
    "dpkg-deb": "dpkg",
    "mkfs.vfat": "dosfstools",
    "mcopy": "mtools",
    "syslinux": "syslinux (and syslinux-common)",
    "qemu-img": "qemu-utils",
}


class GuestBuildError(RuntimeError):
    """The test guest cannot be built here (wrong architecture, missing tool or package)."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str

    @property
    def pin(self) -> str:
        return f"{self.name}={self.version}"


def check_host() -> None:
    """Raise GuestBuildError unless this host can build the guest (x86_64, tools present)."""
    machine = platform.machine()
    if machine not in ("x86_64", "amd64"):
        raise GuestBuildError(
            f"the stackbox test guest is built from Debian's amd64 cloud kernel and boots "
            f"x86_64 guests only; this host is {machine}"
        )
    missing = sorted({pkg for tool, pkg in HOST_TOOLS.items() if not privileged.available(tool)})
    if missing:
        raise GuestBuildError(
            "building the test guest needs these Debian packages on the host: "
            + ", ".join(missing)
            + " (etc/apt-packages.txt; `make setup` as root installs them)"
        )


def _show(names: list[str]) -> dict[str, dict[str, str]]:
    try:
        stanzas = privileged.apt_cache_show(names)
    except privileged.CommandError as exc:
        raise GuestBuildError(
            f"apt cannot show {', '.join(names)} ({exc.stderr.strip()[:200]}); "
            "run `apt-get update` (Debian bookworm or newer, amd64)"
        ) from exc
    return {s.get("Package", ""): s for s in stanzas}


def resolve() -> tuple[Package, Package]:
    """The versioned cloud kernel package (`linux-image-<ver>-cloud-amd64`, the one
    `linux-image-cloud-amd64` depends on) and busybox-static, at apt's candidate versions."""
    shown = _show([KERNEL_META, BUSYBOX])
    if KERNEL_META not in shown or BUSYBOX not in shown:
        raise GuestBuildError(f"apt knows no {KERNEL_META} or {BUSYBOX}: run `apt-get update`")
    busybox = Package(BUSYBOX, shown[BUSYBOX]["Version"])
    depends = shown[KERNEL_META].get("Depends", "")
    for alternative in re.split(r"[,|]", depends):
        m = re.fullmatch(
            r"\s*(linux-image-[0-9][\w.+-]*-cloud-amd64)\s*(?:\(\s*=\s*([^)\s]+)\s*\))?\s*",
            alternative,
        )
        if m and m.group(2):
            return Package(m.group(1), m.group(2)), busybox
        if m:  # no exact version in the dependency: ask for the kernel's candidate
            kernel = _show([m.group(1)]).get(m.group(1))
            if kernel is None:
                raise GuestBuildError(f"apt knows no {m.group(1)}")
            return Package(m.group(1), kernel["Version"]), busybox
    raise GuestBuildError(f"{KERNEL_META} depends on no linux-image-*-cloud-amd64: {depends!r}")


def _deb_filename(pkg: Package) -> str:
    # apt-get download's naming: NAME_VERSION_ARCH.deb with ':' (epoch) escaped as %3a
    return f"{pkg.name}_{pkg.version.replace(':', '%3a')}_"


def fetch(pkg: Package, cache_dir: Path) -> Path:
    """The .deb of pkg in cache_dir, downloaded with `apt-get download` if not there yet."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    prefix = _deb_filename(pkg)

    def cached() -> Path | None:
        hits = sorted(p for p in cache_dir.glob("*.deb") if p.name.startswith(prefix))
        return hits[0] if hits else None

    found = cached()
    if found is None:
        try:
            privileged.apt_download([pkg.pin], cache_dir)
        except privileged.CommandError as exc:
            raise GuestBuildError(f"apt-get download {pkg.pin} failed: {exc}") from exc
        found = cached()
        if found is None:
            raise GuestBuildError(f"apt-get download {pkg.pin} left no .deb in {cache_dir}")
    return found


def unpack(deb: Path, dest: Path) -> Path:
    """Unpack deb under dest (once: a marker file records a finished unpack)."""
    marker = dest / ".unpacked"
    if marker.exists() and marker.read_text() == deb.name:
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    privileged.dpkg_deb_extract(deb, dest)
    marker.write_text(deb.name)
    return dest
