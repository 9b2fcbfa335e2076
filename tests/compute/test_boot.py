"""The boot workflow on the real LibvirtDriver (test:///default), real disks and a real
image cache; the conductor is the in-test RecordingConductor."""

from __future__ import annotations

import io
import json
import shutil
import uuid as uuidlib
from pathlib import Path

import pycdlib
import pytest

from stackbox import privileged
from stackbox.compute import disks, states
from stackbox.compute.imagecache import base_name
from stackbox.virt.ownership import read_mark
from tests.compute.recording import (
    CLOUD,
    IMG,
    ComputeRig,
    compute_rig,
    make_image,
    make_instance,
)
from tests.samples import UNSAFE, ImageSample, sample

pytestmark = pytest.mark.skipif(
    not privileged.available("qemu-img"), reason="needs qemu-img (qemu-utils) for real disks"
)


async def build(rig: ComputeRig, **overrides: object) -> dict:
    inst = rig.add(make_instance(IMG, **overrides))
    await rig.manager.build_and_run_instance(instance=inst, request_id="req-1")
    return rig.current(inst["uuid"])


def _disk_targets(xml: str) -> list[tuple[str, str]]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml)
    out = []
    for d in root.iter("disk"):
        target, source = d.find("target"), d.find("source")
        assert target is not None and source is not None
        out.append((str(target.get("dev")), str(source.get("file"))))
    return out


async def test_build_runs_the_guest_on_an_overlay_of_the_cached_image(rig: ComputeRig) -> None:
    inst = await build(rig)
    uuid = inst["uuid"]
    assert inst["vm_state"] == states.ACTIVE
    assert inst["task_state"] is None
    assert inst["power_state"] == states.RUNNING
    assert inst["root_device_name"] == "/dev/vda"
    assert inst["launched_at"]
    assert rig.driver.state(uuid).power_state == states.RUNNING
    root = rig.instances_path / uuid / "disk"
    info = disks.disk_info(root)
    assert info.format == "qcow2"
    assert (
        Path(info.backing_file or "").resolve()
        == (rig.instances_path / "_base" / base_name(IMG)).resolve()
    )
    assert info.virtual_size == 1024**3  # flavor root_gb 1
    assert (rig.instances_path / uuid / "libvirt.xml").exists()
    assert rig.events_of(uuid) == [
        ("compute_build_and_run_instance", "start"),
        ("compute_build_and_run_instance", "Success"),
    ]


async def test_second_server_from_one_image_does_not_fetch_it_again(rig: ComputeRig) -> None:
    first = await build(rig)
    base = rig.instances_path / "_base" / base_name(IMG)
    inode = base.stat().st_ino
    (rig.store / IMG).unlink()  # a second download would now fail
    second = await build(rig)
    assert second["vm_state"] == states.ACTIVE, rig.conductor.faults
    assert base.stat().st_ino == inode
    assert first["uuid"] != second["uuid"]


async def test_flavor_disks_and_config_drive_are_attached_in_order(rig: ComputeRig) -> None:
    flavor = {
        "flavorid": "2",
        "name": "m1.eph",
        "vcpus": 1,
        "memory_mb": 128,
        "root_gb": 1,
        "ephemeral_gb": 1,
        "swap": 16,
    }
    inst = await build(
        rig,
        flavor=flavor,
        config_drive="True",
        key_name="k1",
        key_data="ssh-ed25519 AAAA me@host",
        user_data="IyEvYmluL3NoCmVjaG8gaGk=",  # "#!/bin/sh\necho hi"
        metadata={"role": "web"},
    )
    uuid = inst["uuid"]
    assert inst["vm_state"] == states.ACTIVE, rig.conductor.faults
    idir = rig.instances_path / uuid
    targets = _disk_targets(rig.driver.domain_xml(uuid))
    assert targets == [
        ("vda", str(idir / "disk")),
        ("vdb", str(idir / "disk.local")),
        ("vdc", str(idir / "disk.swap")),
        ("vdd", str(idir / "disk.config")),
    ]
    assert disks.disk_info(idir / "disk.local").virtual_size == 1024**3
    assert disks.disk_info(idir / "disk.swap").virtual_size == 16 * 1024**2

    iso = pycdlib.PyCdlib()
    iso.open(str(idir / "disk.config"))
    try:
        assert iso.pvd.volume_identifier.decode().strip() == "config-2"
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path="/openstack/latest/meta_data.json")
        md = json.loads(out.getvalue())
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path="/openstack/latest/user_data")
        assert out.getvalue() == b"#!/bin/sh\necho hi"
    finally:
        iso.close()
    assert md["uuid"] == uuid
    assert md["public_keys"] == {"k1": "ssh-ed25519 AAAA me@host"}
    assert md["meta"] == {"role": "web"}


async def test_forced_config_drive(tmp_path: Path) -> None:
    async for rig in compute_rig(tmp_path, cfg_overrides={("compute", "force_config_drive"): True}):
        make_image(rig.store, IMG)
        inst = await build(rig)
        assert inst["config_drive"] == "True"
        assert (rig.instances_path / inst["uuid"] / "disk.config").is_file()


async def test_image_that_requires_a_config_drive_gets_one(rig: ComputeRig) -> None:
    make_image(rig.store, IMG)
    meta = {"id": IMG, "disk_format": "qcow2", "properties": {"img_config_drive": "mandatory"}}
    inst = await build(rig, image_meta=meta)
    assert inst["vm_state"] == states.ACTIVE
    assert (rig.instances_path / inst["uuid"] / "disk.config").is_file()


async def test_failed_build_cleans_up_and_reports(rig: ComputeRig) -> None:
    inst = await build(rig, image_ref="99999999-0000-4000-8000-000000000000")
    uuid = inst["uuid"]
    assert inst["vm_state"] == states.ERROR
    assert inst["task_state"] is None
    assert not (rig.instances_path / uuid).exists()
    assert uuid not in {g.uuid for g in rig.driver.list_guests()}
    assert rig.conductor.released == [uuid]
    [fault] = rig.conductor.faults
    assert fault["code"] == 500 and "not found" in fault["message"]
    assert "Traceback" in fault["details"]
    assert rig.events_of(uuid)[-1] == ("compute_build_and_run_instance", "Error")


async def test_root_disk_smaller_than_image_fails(rig: ComputeRig) -> None:
    make_image(rig.store, "22222222-2222-4333-8444-555555555555", size="2G")
    inst = await build(rig, image_ref="22222222-2222-4333-8444-555555555555")
    assert inst["vm_state"] == states.ERROR
    assert "too small" in rig.conductor.faults[0]["message"]


async def _build_from_sample(rig: ComputeRig, s: ImageSample, disk_format: str) -> dict:
    image_id = str(uuidlib.uuid4())
    rig.store.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(s.path, rig.store / image_id)
    meta = {"id": image_id, "name": s.name, "disk_format": disk_format, "properties": {}}
    return await build(rig, image_ref=image_id, image_meta=meta)


@pytest.mark.parametrize("name", UNSAFE)
async def test_unsafe_images_do_not_boot(rig: ComputeRig, image_samples: dict, name: str) -> None:
    s = sample(image_samples, name)
    inst = await _build_from_sample(rig, s, s.format)
    assert inst["vm_state"] == states.ERROR
    (fault,) = rig.conductor.faults
    assert "is unacceptable: Image " in fault["message"]
    assert not (rig.instances_path / inst["uuid"]).exists()  # no disk made on it


@pytest.mark.parametrize(
    ("name", "lie"),
    [("raw-blank", "qcow2"), ("standard-qcow2v3", "raw"), ("standard-iso9660", "raw")],
)
async def test_images_whose_data_is_not_their_disk_format_do_not_boot(
    rig: ComputeRig, image_samples: dict, name: str, lie: str
) -> None:
    inst = await _build_from_sample(rig, sample(image_samples, name), lie)
    assert inst["vm_state"] == states.ERROR
    (fault,) = rig.conductor.faults
    assert fault["message"].endswith("is unacceptable: Image content does not match disk_format")


@pytest.mark.parametrize(
    ("name", "backing_format"),
    [("vmdk-streamOptimized", "vmdk"), ("standard-iso9660", "raw"), ("gpt-blank", "raw")],
)
async def test_safe_images_of_other_formats_boot(
    rig: ComputeRig, image_samples: dict, name: str, backing_format: str
) -> None:
    s = sample(image_samples, name)
    inst = await _build_from_sample(rig, s, s.format)
    assert inst["vm_state"] == states.ACTIVE, rig.conductor.faults
    root = disks.disk_info(rig.instances_path / inst["uuid"] / "disk")
    assert root.backing_format == backing_format


async def test_rebuild_recreates_the_root_disk_from_the_new_image(rig: ComputeRig) -> None:
    inst = await build(rig)
    uuid = inst["uuid"]
    new = "44444444-2222-4333-8444-555555555555"
    make_image(rig.store, new, size="32M")
    rig.conductor.instances[uuid].update(task_state=states.REBUILDING, image_ref=new)
    payload = rig.current(uuid)
    payload["image_meta"] = dict(payload["image_meta"], id=new)
    await rig.manager.rebuild_instance(instance=payload, request_id="rb")
    inst = rig.current(uuid)
    assert (inst["vm_state"], inst["task_state"]) == (states.ACTIVE, None), rig.conductor.faults
    backing = disks.disk_info(rig.instances_path / uuid / "disk").backing_file
    assert Path(backing or "").name == base_name(new)
    assert rig.driver.state(uuid).power_state == states.RUNNING


async def test_domain_is_named_and_marked_by_the_cloud(tmp_path: Path) -> None:
    async for rig in compute_rig(tmp_path):
        make_image(rig.store, IMG)
        inst = await build(rig, id=78)
        assert inst["vm_state"] == states.ACTIVE, rig.conductor.faults
        names = {g.name for g in rig.driver.list_guests() if g.uuid == inst["uuid"]}
        assert names == {f"sbx-{CLOUD.short}-0000004e"}
        mark = read_mark(rig.driver.domain_xml(inst["uuid"]))
        assert (mark.cloud_id, mark.metadata and mark.metadata.instance_uuid) == (
            CLOUD.cloud_id,
            inst["uuid"],
        )


async def test_domain_is_named_by_the_configured_template(tmp_path: Path) -> None:
    overrides = {("compute", "instance_name_template"): "cloud2-%06d"}
    async for rig in compute_rig(tmp_path, cfg_overrides=overrides):
        make_image(rig.store, IMG)
        inst = await build(rig, id=77)
        assert inst["vm_state"] == states.ACTIVE
        names = {g.name for g in rig.driver.list_guests() if g.uuid == inst["uuid"]}
        assert names == {"cloud2-000077"}
        await rig.manager.terminate_instance(instance=rig.current(inst["uuid"]), request_id="d")


def _drive_file(path: Path, name: str) -> bytes:
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path=name)
        return out.getvalue()
    finally:
        iso.close()


async def test_personality_files_reach_the_config_drive_on_build_and_rebuild(
    rig: ComputeRig,
) -> None:
    inst = rig.add(make_instance(IMG, config_drive="True"))
    uuid = inst["uuid"]
    files = [
        {"path": "/etc/motd", "contents": "aGVsbG8K"},  # "hello\n"
        {"path": "/root/bin", "contents": "AP8="},
    ]
    await rig.manager.build_and_run_instance(instance=inst, request_id="b", injected_files=files)
    assert rig.current(uuid)["vm_state"] == states.ACTIVE, rig.conductor.faults
    drive = rig.instances_path / uuid / "disk.config"
    md = json.loads(_drive_file(drive, "/openstack/latest/meta_data.json"))
    assert md["files"] == [
        {"path": "/etc/motd", "content_path": "/content/0000"},
        {"path": "/root/bin", "content_path": "/content/0001"},
    ]
    assert _drive_file(drive, "/openstack/content/0000") == b"hello\n"
    assert _drive_file(drive, "/openstack/content/0001") == b"\x00\xff"

    rig.conductor.instances[uuid].update(task_state=states.REBUILDING)
    new = [{"path": "/etc/issue", "contents": "Ynll"}]  # "bye"
    await rig.manager.rebuild_instance(
        instance=rig.current(uuid), request_id="rb", injected_files=new
    )
    assert rig.current(uuid)["task_state"] is None, rig.conductor.faults
    md = json.loads(_drive_file(drive, "/openstack/2012-08-10/meta_data.json"))
    assert md["files"] == [{"path": "/etc/issue", "content_path": "/content/0000"}]
    assert _drive_file(drive, "/openstack/content/0000") == b"bye"
    with pytest.raises(pycdlib.pycdlibexception.PyCdlibInvalidInput, match="Could not find"):
        _drive_file(drive, "/openstack/content/0001")
