"""The compute rig (real LibvirtDriver on test:///default, real disks and image cache,
the in-test RecordingConductor) with the test image in its store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.compute.recording import IMG, ComputeRig, compute_rig, make_image


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[ComputeRig]:
    async for r in compute_rig(tmp_path):
        make_image(r.store, IMG)
        yield r
