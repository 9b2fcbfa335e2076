"""Sample images of every format Glance and Nova inspect, good and bad: the ones
Tempest's format tests upload, made by scripts/tempest_images.py once per session
(fixture `image_samples` in tests/conftest.py). A sample whose tool is missing on this
host is absent; `sample()` skips the test that needs it."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import tempest_images  # noqa: E402

UNSAFE = (  # the unusable samples: unsafe for QEMU, or a format no service takes
    "qcow-with-backing",
    "qcow-with-datafile",
    "standard",  # QED
    "iso-with-qcow2-in-system",
    "vmdk-monolithicFlat",
    "vmdk-monolithicFlat-leak",
    "vmdk-sparse-with-url-backing",
)


@dataclass(frozen=True)
class ImageSample:
    name: str
    format: str
    usable: bool
    path: Path


def make_samples(out: Path) -> dict[str, ImageSample]:
    tempest_images.generate(out)
    return {
        s.name: ImageSample(s.name, s.format, s.usable, out / s.filename)
        for s in tempest_images.SAMPLES
        if (out / s.filename).exists()
    }


def sample(samples: dict[str, ImageSample], name: str) -> ImageSample:
    if name not in samples:
        pytest.skip(f"sample image {name} could not be made here (a tool is missing)")
    return samples[name]
