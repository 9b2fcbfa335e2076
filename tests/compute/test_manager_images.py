"""The compute service's image cache clean-up: a cached base no instance disk uses is
removed once it is older than compute.image_cache_max_age; one a disk is backed by
stays, however old."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackbox import privileged
from stackbox.compute import states
from tests.compute.recording import IMG, compute_rig, make_image, make_instance

OTHER = "22222222-3333-4444-8555-666666666666"

pytestmark = pytest.mark.skipif(
    not privileged.available("qemu-img"), reason="needs qemu-img (qemu-utils) for real disks"
)


async def test_unused_bases_are_evicted_and_used_ones_kept(tmp_path: Path) -> None:
    overrides = {("compute", "image_cache_max_age"): 0}
    async for rig in compute_rig(tmp_path, cfg_overrides=overrides):
        make_image(rig.store, IMG)
        make_image(rig.store, OTHER)
        inst = rig.add(make_instance(IMG))
        await rig.manager.build_and_run_instance(instance=inst, request_id="r")
        assert rig.current(inst["uuid"])["vm_state"] == states.ACTIVE
        images = rig.manager.ctx.images
        used, unused = images.path_for(IMG), await images.ensure(OTHER)
        assert used.is_file() and unused.is_file()
        removed = await rig.manager.evict_images()
        assert removed == [str(unused)]
        assert used.is_file() and not unused.exists()
        await rig.manager.terminate_instance(instance=rig.current(inst["uuid"]), request_id="d")
        assert await rig.manager.evict_images() == [str(used)]
