"""Format inspection (stackbox/image/formats.py) on real sample images: what Glance
accepts on upload and import, what Nova agrees to boot, and the reasons each gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackbox.image import formats
from tests.samples import UNSAFE, ImageSample, sample, tempest_images

USABLE = [s.name for s in tempest_images.SAMPLES if s.usable]


def _received(s: ImageSample, disk_format: str | None = None, container: str = "bare") -> object:
    size = s.path.stat().st_size
    return formats.check_received(s.path, disk_format or s.format, container, size)


@pytest.mark.parametrize("name", USABLE)
def test_usable_samples_are_received_and_bootable(image_samples: dict, name: str) -> None:
    s = sample(image_samples, name)
    vsize = _received(s)
    assert isinstance(vsize, int) and vsize > 0
    assert formats.check_bootable(s.path, s.format) == formats.QEMU_FORMAT.get(s.format, s.format)


@pytest.mark.parametrize("name", UNSAFE)
def test_unusable_samples_are_refused_on_upload_and_boot(image_samples: dict, name: str) -> None:
    s = sample(image_samples, name)
    assert not s.usable
    for declared in (s.format, "raw"):  # declaring it raw does not make it safe
        with pytest.raises(formats.Unacceptable):
            _received(s, declared)
        with pytest.raises(formats.Unacceptable):
            formats.check_bootable(s.path, declared)


def test_glance_reasons(image_samples: dict) -> None:
    raw = sample(image_samples, "raw-blank")
    with pytest.raises(
        formats.Unacceptable, match=r"^Image disk_format qcow2 does not match stream data raw$"
    ):
        _received(raw, "qcow2")
    with pytest.raises(formats.Unacceptable, match=r"^Image failed safety checks$"):
        _received(sample(image_samples, "qcow-with-backing"))
    with pytest.raises(formats.Unacceptable, match=r"^Multiple formats detected: "):
        _received(sample(image_samples, "iso-with-qcow2-in-system"))


def test_glance_takes_anything_safe_as_raw_and_plain_data_as_uninspectable(
    image_samples: dict,
) -> None:
    qcow2 = sample(image_samples, "standard-qcow2v3")
    assert _received(qcow2, "raw") == qcow2.path.stat().st_size  # raw: its size
    raw = sample(image_samples, "raw-blank")
    assert _received(raw, "ami") is None  # nothing to inspect, no virtual size
    with pytest.raises(formats.Unacceptable, match="does not match stream data qcow2"):
        _received(qcow2, "ami")


def test_data_in_a_container_is_not_inspected(image_samples: dict) -> None:
    unsafe = sample(image_samples, "qcow-with-backing")
    assert _received(unsafe, "qcow2", container="ova") is None


def test_nova_reasons(image_samples: dict) -> None:
    raw = sample(image_samples, "raw-blank")
    with pytest.raises(formats.Unacceptable, match=r"^Image content does not match disk_format$"):
        formats.check_bootable(raw.path, "qcow2")
    with pytest.raises(formats.Unacceptable, match=r"^Image does not pass safety check$"):
        formats.check_bootable(sample(image_samples, "qcow-with-datafile").path, "qcow2")
    for unsupported in ("ploop", None, "nonsense"):
        with pytest.raises(formats.Unacceptable, match=r"^Image not in a supported format$"):
            formats.check_bootable(raw.path, unsupported)


@pytest.mark.parametrize("name", [s.name for s in tempest_images.SAMPLES])
def test_nova_refuses_every_image_whose_disk_format_lies(image_samples: dict, name: str) -> None:
    s = sample(image_samples, name)
    lie = "qcow2" if s.format in ("raw", "gpt") else "raw"  # Tempest's format mismatch
    with pytest.raises(formats.Unacceptable):
        formats.check_bootable(s.path, lie)


def test_whole_disk_images_registered_raw_boot_as_raw(image_samples: dict) -> None:
    gpt = sample(image_samples, "gpt-blank")
    assert formats.check_bootable(gpt.path, "raw") == "raw"
    # AMI-style images are whatever they are, as long as they are safe
    assert formats.check_bootable(sample(image_samples, "standard-qcow2v3").path, "ami") == "raw"


def test_unreadable_data(tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    with pytest.raises(formats.Unacceptable, match=r"^Image format inspection failed$"):
        formats.check_received(missing, "raw", "bare", 0)
    with pytest.raises(formats.Unacceptable, match=r"^Image not in a supported format$"):
        formats.check_bootable(missing, "raw")
