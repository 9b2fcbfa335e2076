#!/usr/bin/env python3
"""Sample images for Tempest's image format tests (`tempest.api.image.v2.
test_images_formats`), and the manifest `[image] images_manifest_file` names.

    python scripts/tempest_images.py OUT_DIR      # writes OUT_DIR/manifest.yaml

The samples are those of OpenStack's os-test-images project (its `manifest.yaml`, which
DevStack generates for Tempest), made the same way: a good and a bad image of each
format Glance and Nova inspect. Unusable ones are unsafe to hand to QEMU (a qcow2 with
a backing file or an external data file, VMDKs whose extents are other files, an ISO
with a qcow2 header in its system area) or of a format no service takes (QED).

Tools: `qemu-img` (qemu-utils), `parted` (the GPT disk) and `genisoimage` (the ISOs),
all in etc/apt-packages.txt. A sample whose tool is missing, or which this qemu-img
cannot make (QED, UDF), is left out of the manifest with a warning, as os-test-images
does. Only the standard library is used: this runs beside Tempest, outside the venv.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# The host file the "leaking" samples point at: any file every host has.
LEAK_TARGET = "/etc/hosts"


@dataclass(frozen=True)
class Sample:
    name: str
    format: str
    usable: bool
    make: Callable[[Path], None]  # writes the sample at the path it is given
    tools: tuple[str, ...] = ("qemu-img",)

    @property
    def filename(self) -> str:
        return f"{self.name}.{self.format}"


def _run(*argv: str, cwd: Path) -> str:
    return subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True).stdout


def _qemu_img(fmt: str, size: str, *options: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        _run("qemu-img", "create", "-f", fmt, *options, path.name, size, cwd=path.parent)

    return make


def _qcow2_with_data_file(path: Path) -> None:
    data = path.with_name(f"{path.stem}-data")
    options = f"data_file={data.name},data_file_raw=on"
    _run("qemu-img", "create", "-f", "qcow2", "-o", options, path.name, "10M", cwd=path.parent)
    data.unlink()


def _gpt(path: Path) -> None:
    _qemu_img("raw", "1M")(path)
    _run("parted", "--script", path.name, "mklabel gpt", cwd=path.parent)


def _iso(*options: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        content = path.with_name(f"{path.stem}-content")
        content.mkdir(exist_ok=True)
        (content / "README").write_text("a sample image for Tempest's format tests\n")
        argv = ["genisoimage", "-quiet", *options, "-V", path.stem[:32], "-o", path.name]
        _run(*argv, content.name, cwd=path.parent)
        shutil.rmtree(content)

    return make


def _iso_with_qcow2_header(path: Path) -> None:
    """An ISO whose first 32 KiB (the system area, which ISO 9660 leaves to its user)
    are a qcow2 header: a tool that trusts the first header takes it for a qcow2."""
    _iso()(path)
    qcow2 = path.with_name(f"{path.stem}-header.qcow2")
    _qemu_img("qcow2", "10M")(qcow2)
    with open(path, "r+b") as fh:
        fh.write(qcow2.read_bytes()[: 32 * 1024])
    qcow2.unlink()


def _vmdk_flat(extent: str | None) -> Callable[[Path], None]:
    """A monolithicFlat VMDK: a text descriptor naming its extent file, which is
    removed (or, with `extent`, renamed in the descriptor to a file of the host)."""

    def make(path: Path) -> None:
        _qemu_img("vmdk", "10M", "-o", "subformat=monolithicFlat")(path)
        flat = path.with_name(f"{path.stem}-flat.vmdk")
        if extent:
            path.write_text(path.read_text().replace(flat.name, extent))
        flat.unlink()

    return make


def _vmdk_sparse_naming_a_host_file(path: Path) -> None:
    """A monolithicSparse VMDK whose embedded descriptor (sector 1) names a host file
    as its extent instead of itself."""
    _qemu_img("vmdk", "10M", "-o", "subformat=monolithicSparse")(path)
    with open(path, "r+b") as fh:
        fh.seek(512)
        sector = fh.read(512)
        fh.seek(512)
        fh.write(sector.replace(path.name.encode(), LEAK_TARGET.encode()))


def _vmdk_sparse_with_footer(path: Path) -> None:
    """A monolithicSparse VMDK whose header says "see the footer" (the grain directory
    offset GD_AT_END), with a footer marker, a footer (a copy of the header) and an
    end-of-stream marker appended, as VMware's tools write them."""
    _qemu_img("vmdk", "10M", "-o", "subformat=monolithicSparse")(path)
    with open(path, "r+b") as fh:
        header = fh.read(512)
        fh.seek(56)
        fh.write(struct.pack("<Q", 0xFFFFFFFFFFFFFFFF))
        fh.seek(0, 2)
        marker = bytearray(512)
        marker[12:16] = struct.pack("<I", 3)  # a footer marker
        fh.write(bytes(marker) + header + bytes(512))


SAMPLES = (
    Sample("standard-qcow2v3", "qcow2", True, _qemu_img("qcow2", "10M")),
    Sample(
        "qcow-with-backing",
        "qcow2",
        False,
        _qemu_img("qcow2", "10M", "-F", "raw", "-b", LEAK_TARGET),
    ),
    Sample("qcow-with-datafile", "qcow2", False, _qcow2_with_data_file),
    Sample("raw-blank", "raw", True, _qemu_img("raw", "1M")),
    Sample("gpt-blank", "gpt", True, _gpt, ("qemu-img", "parted")),
    Sample("standard", "qed", False, _qemu_img("qed", "10M")),
    Sample("standard-iso9660", "iso", True, _iso(), ("genisoimage",)),
    Sample("standard-udf", "iso", True, _iso("-udf"), ("genisoimage",)),
    Sample(
        "iso-with-qcow2-in-system",
        "iso",
        False,
        _iso_with_qcow2_header,
        ("qemu-img", "genisoimage"),
    ),
    Sample(
        "vmdk-monolithicSparse",
        "vmdk",
        True,
        _qemu_img("vmdk", "10M", "-o", "subformat=monolithicSparse"),
    ),
    Sample(
        "vmdk-streamOptimized",
        "vmdk",
        True,
        _qemu_img("vmdk", "10M", "-o", "subformat=streamOptimized"),
    ),
    Sample("vmdk-monolithicFlat", "vmdk", False, _vmdk_flat(None)),
    Sample("vmdk-monolithicFlat-leak", "vmdk", False, _vmdk_flat(LEAK_TARGET)),
    Sample("vmdk-sparse-with-url-backing", "vmdk", False, _vmdk_sparse_naming_a_host_file),
    Sample("vmdk-sparse-with-footer", "vmdk", True, _vmdk_sparse_with_footer),
)


def manifest_yaml(samples: list[Sample]) -> str:
    """The manifest Tempest reads: `images:` with name, format, filename, usable (JSON
    strings are YAML scalars, so no YAML library is needed)."""
    lines = ["images:"]
    for s in samples:
        lines.append(f"- name: {json.dumps(s.name)}")
        lines.append(f"  format: {json.dumps(s.format)}")
        lines.append(f"  filename: {json.dumps(s.filename)}")
        lines.append(f"  usable: {json.dumps(s.usable)}")
    return "\n".join(lines) + "\n"


def generate(out: Path, samples: tuple[Sample, ...] = SAMPLES) -> Path:
    """Make every sample the host's tools can make in `out`; returns the manifest's path."""
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for sample in samples:
        missing = [t for t in sample.tools if shutil.which(t) is None]
        path = out / sample.filename
        try:
            if missing:
                raise RuntimeError(f"{', '.join(missing)} not installed")
            path.unlink(missing_ok=True)
            sample.make(path)
        except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
            path.unlink(missing_ok=True)
            detail = getattr(exc, "stderr", "") or exc
            print(f"tempest_images: left out {sample.filename}: {detail}", file=sys.stderr)
            continue
        made.append(sample)
    manifest = out / "manifest.yaml"
    manifest.write_text(manifest_yaml(made))
    return manifest


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    print(generate(Path(argv[0]).resolve()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
