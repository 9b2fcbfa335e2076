"""The compute service factory: driver URI choice, image source, start/stop."""

from __future__ import annotations

from pathlib import Path

from stackbox import bus as sbbus
from stackbox import config
from stackbox.compute.imagecache import FileImageSource, HttpImageSource
from stackbox.compute.manager import create
from tests.compute.recording import RecordingConductor


def _cfg(tmp_path: Path) -> config.Config:
    return config.load(
        env={},
        overrides={
            ("default", "state_dir"): str(tmp_path),
            ("compute", "virt_uri"): "test:///default",
            ("api", "public_url"): "http://ctl:8080",
        },
    )


async def test_all_in_one_host_reads_the_local_image_store(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    bus = sbbus.connect("local://")
    await bus.start()
    try:
        mgr = await create(_cfg(tmp_path), bus, "h1")
        assert "test:///default" in mgr.virt_description
        assert isinstance(mgr.ctx.images.source, FileImageSource)
        assert mgr.ctx.images.base_dir == tmp_path / "instances" / "_base"
        assert mgr.ctx.uploader.image_endpoint == "http://ctl:8080/image"
    finally:
        await bus.stop()


async def test_compute_only_host_downloads_from_the_image_api(tmp_path: Path) -> None:
    bus = sbbus.connect("local://")
    await bus.start()
    try:
        mgr = await create(_cfg(tmp_path), bus, "h1")
        assert isinstance(mgr.ctx.images.source, HttpImageSource)
        assert mgr.ctx.images.source.image_endpoint == "http://ctl:8080/image"
    finally:
        await bus.stop()


async def test_start_reports_and_stop_ends_periodic_tasks(tmp_path: Path) -> None:
    bus = sbbus.connect("local://")
    await bus.start()
    conductor = RecordingConductor()
    await bus.serve("conductor", conductor, host="c1")
    try:
        cfg = _cfg(tmp_path)
        cfg.set("compute", "resource_update_interval", 0.05)
        mgr = await create(cfg, bus, "h1")
        await mgr.start()
        import asyncio

        await asyncio.sleep(0.2)
        await mgr.stop()
        reports = len(conductor.nodes)
        assert reports >= 2  # the first at start, then periodic
        await asyncio.sleep(0.15)
        assert len(conductor.nodes) == reports  # stopped
        assert conductor.nodes[0]["host"] == "h1"
    finally:
        await bus.stop()
