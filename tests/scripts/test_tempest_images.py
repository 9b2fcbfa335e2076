"""The sample images and manifest of Tempest's image format tests
(scripts/tempest_images.py): what Tempest reads, and samples left out for a lack of tools."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.samples import tempest_images


def test_manifest_lists_every_sample_made(tmp_path: Path) -> None:
    manifest = tempest_images.generate(tmp_path)
    images = yaml.safe_load(manifest.read_text())["images"]
    assert [i["name"] for i in images] == [
        s.name for s in tempest_images.SAMPLES if (tmp_path / s.filename).exists()
    ]
    assert len(images) >= 12  # at most QED, UDF and the GPT disk depend on the host
    for image in images:
        assert set(image) == {"name", "format", "filename", "usable"}
        assert (tmp_path / image["filename"]).stat().st_size > 0
    assert not [p.name for p in tmp_path.iterdir() if not p.is_file()]  # helpers removed


def test_a_sample_whose_tool_is_missing_is_left_out(tmp_path: Path) -> None:
    fake = tempest_images.Sample(
        "needs-nothing-real", "raw", True, lambda p: p.write_bytes(b"x"), ("no-such-tool",)
    )
    manifest = tempest_images.generate(tmp_path, (fake, tempest_images.SAMPLES[3]))
    names = [i["name"] for i in yaml.safe_load(manifest.read_text())["images"]]
    assert names == ["raw-blank"]
    assert not (tmp_path / fake.filename).exists()
