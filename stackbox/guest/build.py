"""Build the stackbox test guest: a bootable qcow2 plus a kernel/ramdisk pair.

`build_test_guest(output_dir)` writes

* `stackbox-tiny.qcow2` -- SYSLINUX on a FAT filesystem made in a plain file (mkfs.vfat,
  mcopy, `syslinux --install`: no loop device, no mount), converted to qcow2;
* `stackbox-tiny.vmlinuz` / `stackbox-tiny.initrd` -- the same kernel and initramfs, for
  an `aki`/`ari` image pair;
* `stackbox-tiny.json` -- the manifest: sizes, sha512, kernel version, build inputs.

from Debian's cloud kernel and busybox-static (see `debs.py`, `initramfs.py`, `init.sh`).
It is idempotent: when the manifest's inputs (package versions, the init scripts, this
code) match and the files are intact, nothing is rebuilt. x86_64 hosts only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from stackbox import privileged
from stackbox.guest import debs, initramfs
from stackbox.guest.debs import GuestBuildError

LOG = logging.getLogger(__name__)

NAME = "stackbox-tiny"
FORMAT = 1  # bump when the output changes in a way the inputs below do not capture
CMDLINE = "console=ttyS0 quiet"
READY_PREFIX = "stackbox-guest: ready "


@dataclass(frozen=True)
class GuestArtifacts:
    disk: Path
    kernel: Path
    ramdisk: Path
    manifest: Path
    kernel_version: str
    rebuilt: bool

    def files(self) -> dict[str, Path]:
        return {"disk": self.disk, "kernel": self.kernel, "ramdisk": self.ramdisk}

    def info(self) -> dict[str, Any]:
        return json.loads(self.manifest.read_text())


def default_cache_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/cache/stackbox/guest-build")
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "stackbox/guest-build"


def _resource(name: str) -> bytes:
    return resources.files("stackbox.guest").joinpath(name).read_bytes()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha512_file(path: Path) -> str:
    h = hashlib.sha512()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _inputs(kernel: debs.Package, busybox: debs.Package) -> dict[str, Any]:
    code = (
        b"".join(Path(m.__file__).read_bytes() for m in (debs, initramfs) if m.__file__)
        + Path(__file__).read_bytes()
    )
    return {
        "format": FORMAT,
        "kernel_package": kernel.pin,
        "busybox_package": busybox.pin,
        "modules": list(initramfs.MODULES),
        "cmdline": CMDLINE,
        "init.sh": _sha256(_resource("init.sh")),
        "udhcpc.sh": _sha256(_resource("udhcpc.sh")),
        "code": _sha256(code),
    }


def _paths(output_dir: Path) -> dict[str, Path]:
    return {
        "disk": output_dir / f"{NAME}.qcow2",
        "kernel": output_dir / f"{NAME}.vmlinuz",
        "ramdisk": output_dir / f"{NAME}.initrd",
        "manifest": output_dir / f"{NAME}.json",
    }


def _artifacts(paths: dict[str, Path], kernel_version: str, rebuilt: bool) -> GuestArtifacts:
    return GuestArtifacts(
        paths["disk"], paths["kernel"], paths["ramdisk"], paths["manifest"], kernel_version, rebuilt
    )


def _up_to_date(paths: dict[str, Path], inputs: dict[str, Any]) -> str | None:
    """The kernel version of an intact earlier build with the same inputs, else None."""
    try:
        manifest = json.loads(paths["manifest"].read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("inputs") != inputs:
        return None
    for key in ("disk", "kernel", "ramdisk"):
        entry, path = manifest.get("files", {}).get(key, {}), paths[key]
        if not path.is_file() or path.stat().st_size != entry.get("size"):
            return None
        if _sha512_file(path) != entry.get("sha512"):
            return None
    return str(manifest["kernel_version"])


def _syslinux_cfg() -> bytes:
    return (
        "DEFAULT stackbox\nPROMPT 0\nTIMEOUT 1\n"
        f"LABEL stackbox\n  LINUX /vmlinuz\n  INITRD /initrd.img\n  APPEND {CMDLINE}\n"
    ).encode()


def make_disk(kernel: Path, ramdisk: Path, dest: Path, workdir: Path) -> None:
    """A qcow2 at dest booting kernel+ramdisk with SYSLINUX from a FAT filesystem."""
    raw, cfg = workdir / "disk.raw", workdir / "syslinux.cfg"
    cfg.write_bytes(_syslinux_cfg())
    payload_kib = (kernel.stat().st_size + ramdisk.stat().st_size) // 1024
    size_kib = -(-(payload_kib + payload_kib // 20 + 2048) // 1024) * 1024  # whole MiB
    raw.unlink(missing_ok=True)
    privileged.mkfs_vfat(raw, size_kib, label="STACKBOX", volume_id="5b0c0001")
    staged = workdir / "vmlinuz", workdir / "initrd.img"
    shutil.copyfile(kernel, staged[0])
    shutil.copyfile(ramdisk, staged[1])
    privileged.mcopy(raw, [*staged, cfg])
    privileged.syslinux_install(raw)
    privileged.qemu_img_convert(raw, dest, src_format="raw", out_format="qcow2")


def build_test_guest(output_dir: Path, cache_dir: Path | None = None) -> GuestArtifacts:
    """Build (or find up to date) the test guest in output_dir; see the module docstring.

    cache_dir holds the downloaded .debs and their unpacked trees (default
    /var/cache/stackbox/guest-build as root, else ~/.cache/stackbox/guest-build).
    Raises GuestBuildError when this host cannot build it.
    """
    debs.check_host()
    output_dir = Path(output_dir)
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    kernel_pkg, busybox_pkg = debs.resolve()
    inputs = _inputs(kernel_pkg, busybox_pkg)
    paths = _paths(output_dir)
    if (version := _up_to_date(paths, inputs)) is not None:
        LOG.debug("test guest in %s is up to date", output_dir)
        return _artifacts(paths, version, rebuilt=False)

    kernel_version = kernel_pkg.name.removeprefix("linux-image-")
    trees = {}
    for pkg in (kernel_pkg, busybox_pkg):
        deb = debs.fetch(pkg, cache_dir)
        trees[pkg.name] = debs.unpack(deb, cache_dir / "unpacked" / deb.name.removesuffix(".deb"))
    ktree, bbtree = trees[kernel_pkg.name], trees[busybox_pkg.name]
    vmlinuz = ktree / "boot" / f"vmlinuz-{kernel_version}"
    moddir = ktree / "lib" / "modules" / kernel_version
    if not vmlinuz.is_file() or not moddir.is_dir():
        raise GuestBuildError(f"{kernel_pkg.pin} has no boot/vmlinuz-{kernel_version} + modules")
    modules = initramfs.resolve_modules(moddir)
    ramdisk = initramfs.build(
        busybox=(bbtree / "bin" / "busybox").read_bytes(),
        modules=modules,
        init=_resource("init.sh"),
        dhcp_script=_resource("udhcpc.sh"),
        kernel_version=kernel_version,
    )

    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=output_dir) as tmp:
        work = Path(tmp)
        staged = {"kernel": work / "kernel", "ramdisk": work / "ramdisk", "disk": work / "disk"}
        shutil.copyfile(vmlinuz, staged["kernel"])
        staged["ramdisk"].write_bytes(ramdisk)
        make_disk(staged["kernel"], staged["ramdisk"], staged["disk"], work)
        files = {
            key: {"name": paths[key].name, "size": p.stat().st_size, "sha512": _sha512_file(p)}
            for key, p in staged.items()
        }
        paths["manifest"].unlink(missing_ok=True)  # a half-replaced set is never "up to date"
        for key, p in staged.items():
            os.replace(p, paths[key])
    manifest = {
        "name": NAME,
        "kernel_version": kernel_version,
        "cmdline": CMDLINE,
        "ready_line": READY_PREFIX + "instance=<uuid|unknown> addresses=<ipv4,...|none>",
        "modules": [name for name, _ in modules],
        "files": files,
        "inputs": inputs,
    }
    tmp_manifest = paths["manifest"].with_suffix(".json.tmp")
    tmp_manifest.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp_manifest, paths["manifest"])
    LOG.info("built the test guest in %s (kernel %s)", output_dir, kernel_version)
    return _artifacts(paths, kernel_version, rebuilt=True)
