"""Rescue and unrescue on the real LibvirtDriver (test:///default): the guest boots
from `disk.rescue` with its own disk second, comes back unchanged, and a crash or a
failure in the middle never loses the root disk."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stackbox import privileged
from stackbox.compute import recovery, rescue
from stackbox.compute import states as st
from stackbox.virt.driver import VirtError
from stackbox.virt.guest import Guest
from stackbox.virt.libvirt_driver import UNRESCUE_XML
from tests.compute.recording import IMG, ComputeRig, active, make_image, make_instance

pytestmark = pytest.mark.skipif(
    not privileged.available("qemu-img"), reason="needs qemu-img (qemu-utils) for real disks"
)
OTHER = "99999999-2222-4333-8444-555555555555"


def disks_of(rig: ComputeRig, uuid: str) -> list[tuple[str, str]]:
    """(file name, target) of each disk of the guest's definition, in order."""
    root = ET.fromstring(rig.driver.domain_xml(uuid))
    return [
        (Path(d.find("source").get("file", "")).name, d.find("target").get("dev", ""))  # type: ignore[union-attr]
        for d in root.findall("devices/disk")
    ]


def definition(rig: ComputeRig, uuid: str) -> str:
    guest = rig.driver.host.find_guest(uuid)
    assert guest is not None
    return guest.xml_desc(inactive=True)


def name_of(rig: ComputeRig, uuid: str) -> str:
    return rig.driver.state(uuid).name


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def rescued(rig: ComputeRig, uuid: str, image: dict | None = None) -> None:
    inst = rig.set_task(uuid, st.RESCUING)
    await rig.manager.rescue_instance(
        instance=inst, request_id="r", rescue_password="pw", rescue_image=image
    )


async def test_rescue_boots_the_rescue_disk_with_the_root_disk_second(rig: ComputeRig) -> None:
    uuid = await active(rig)
    name, idir = name_of(rig, uuid), rig.instances_path / uuid
    await rescued(rig, uuid)
    inst = rig.current(uuid)
    assert (inst["vm_state"], inst["task_state"]) == (st.RESCUED, None), rig.conductor.faults
    assert inst["power_state"] == st.RUNNING
    assert disks_of(rig, uuid) == [("disk.rescue", "vda"), ("disk", "vdb")]
    assert name_of(rig, uuid) == name
    assert (idir / UNRESCUE_XML).exists()
    assert ("compute_rescue_instance", "Success") in rig.events_of(uuid)


async def test_unrescue_restores_the_same_guest_and_every_action_works(rig: ComputeRig) -> None:
    uuid = await active(rig)
    name, idir = name_of(rig, uuid), rig.instances_path / uuid
    before = definition(rig, uuid)
    await rescued(rig, uuid)
    await rig.manager.unrescue_instance(instance=rig.set_task(uuid, st.UNRESCUING), request_id="u")
    inst = rig.current(uuid)
    assert (inst["vm_state"], inst["task_state"]) == (st.ACTIVE, None), rig.conductor.faults
    assert definition(rig, uuid) == before
    assert disks_of(rig, uuid) == [("disk", "vda")]
    assert not (idir / "disk.rescue").exists() and not (idir / UNRESCUE_XML).exists()
    m = rig.manager
    steps = [
        (m.stop_instance, st.POWERING_OFF, st.STOPPED),
        (m.start_instance, st.POWERING_ON, st.ACTIVE),
        (m.pause_instance, st.PAUSING, st.PAUSED),
        (m.unpause_instance, st.UNPAUSING, st.ACTIVE),
        (m.suspend_instance, st.SUSPENDING, st.SUSPENDED),
        (m.resume_instance, st.RESUMING, st.ACTIVE),
    ]
    for method, task, vm in steps:
        await method(instance=rig.set_task(uuid, task), request_id="x")
        assert rig.current(uuid)["vm_state"] == vm, (method, rig.conductor.faults)
    await m.reboot_instance(
        instance=rig.set_task(uuid, st.REBOOTING_HARD), request_id="h", reboot_type="HARD"
    )
    assert rig.current(uuid)["vm_state"] == st.ACTIVE, rig.conductor.faults
    assert name_of(rig, uuid) == name
    assert disks_of(rig, uuid) == [("disk", "vda")]


async def test_a_stopped_server_is_rescued_running_and_unrescued_active(rig: ComputeRig) -> None:
    uuid = await active(rig)
    await rig.manager.stop_instance(instance=rig.set_task(uuid, st.POWERING_OFF), request_id="s")
    await rescued(rig, uuid)
    assert rig.driver.state(uuid).power_state == st.RUNNING
    await rig.manager.unrescue_instance(instance=rig.set_task(uuid, st.UNRESCUING), request_id="u")
    assert rig.current(uuid)["vm_state"] == st.ACTIVE
    assert rig.driver.state(uuid).power_state == st.RUNNING


async def test_the_rescue_image_and_config_drive(rig: ComputeRig) -> None:
    make_image(rig.store, OTHER)
    inst = rig.add(make_instance(IMG, config_drive="True"))
    uuid = inst["uuid"]
    await rig.manager.build_and_run_instance(instance=inst, request_id="b")
    image = {"id": OTHER, "disk_format": "qcow2", "properties": {}}
    await rescued(rig, uuid, image)
    assert disks_of(rig, uuid) == [
        ("disk.rescue", "vda"),
        ("disk", "vdb"),
        ("disk.config.rescue", "vdc"),
    ]
    idir = rig.instances_path / uuid
    backing = privileged.qemu_img_info_shared(idir / "disk.rescue", "qcow2")
    assert (
        Path(backing["full-backing-filename"]).resolve()
        == rig.manager.ctx.images.path_for(OTHER).resolve()
    )
    assert b"pw" in (idir / "disk.config.rescue").read_bytes()  # the rescue password
    await rig.manager.unrescue_instance(instance=rig.set_task(uuid, st.UNRESCUING), request_id="u")
    assert disks_of(rig, uuid) == [("disk", "vda"), ("disk.config", "vdb")]
    assert not list(idir.glob("*.rescue"))


async def test_a_failed_rescue_puts_the_guest_back_on_its_disk(rig: ComputeRig) -> None:
    uuid = await active(rig)
    idir = rig.instances_path / uuid
    kept = digest(idir / "disk")
    missing = {"id": "77777777-2222-4333-8444-555555555555", "properties": {}}
    await rescued(rig, uuid, missing)  # not in the image store: the download fails
    inst = rig.current(uuid)
    assert (inst["vm_state"], inst["task_state"]) == (st.ERROR, None)
    assert rig.conductor.faults
    assert disks_of(rig, uuid) == [("disk", "vda")]
    assert digest(idir / "disk") == kept
    assert not (idir / UNRESCUE_XML).exists() and not list(idir.glob("*.rescue"))


async def test_a_rescue_guest_that_cannot_start_is_put_back_on_its_disk(
    rig: ComputeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    uuid = await active(rig)
    idir = rig.instances_path / uuid
    kept = digest(idir / "disk")

    def refuse(self: Guest, *, paused: bool = False) -> None:
        raise VirtError("cannot start guest: no such device")

    monkeypatch.setattr(Guest, "launch", refuse)  # after the rescue definition is made
    await rescued(rig, uuid)
    monkeypatch.undo()
    inst = rig.current(uuid)
    assert (inst["vm_state"], inst["task_state"]) == (st.ERROR, None)
    assert "no such device" in rig.conductor.faults[0]["message"]
    assert disks_of(rig, uuid) == [("disk", "vda")]
    assert digest(idir / "disk") == kept
    assert not (idir / UNRESCUE_XML).exists() and not list(idir.glob("*.rescue"))


async def test_a_crash_while_rescuing_ends_in_error_on_the_original_disk(
    rig: ComputeRig,
) -> None:
    done, untouched = await active(rig), await active(rig)
    kept = {u: digest(rig.instances_path / u / "disk") for u in (done, untouched)}
    await rescued(rig, done)  # the rescue got as far as it goes, its report was lost
    rig.set_task(done, st.RESCUING)
    rig.conductor.instances[done]["vm_state"] = st.ACTIVE
    rig.set_task(untouched, st.RESCUING)  # the crash came before anything was done
    await recovery.init_host(rig.manager.ctx)
    for uuid in (done, untouched):
        inst = rig.current(uuid)
        assert (inst["vm_state"], inst["task_state"]) == (st.ERROR, None)
        assert disks_of(rig, uuid) == [("disk", "vda")]
        assert digest(rig.instances_path / uuid / "disk") == kept[uuid]
        idir = rig.instances_path / uuid
        assert not (idir / UNRESCUE_XML).exists() and not list(idir.glob("*.rescue"))
    messages = {f["message"] for f in rig.conductor.faults}
    assert messages == {rescue.INTERRUPTED.format("rescued")}
    # ERROR allows a rescue again, and a hard reboot boots the server's own disk
    await rescued(rig, done)
    assert rig.current(done)["vm_state"] == st.RESCUED


async def test_a_crash_while_unrescuing_ends_in_error_on_the_original_disk(
    rig: ComputeRig,
) -> None:
    uuid = await active(rig)
    kept = digest(rig.instances_path / uuid / "disk")
    await rescued(rig, uuid)
    rig.set_task(uuid, st.UNRESCUING)
    await recovery.init_host(rig.manager.ctx)
    inst = rig.current(uuid)
    assert (inst["vm_state"], inst["task_state"]) == (st.ERROR, None)
    assert disks_of(rig, uuid) == [("disk", "vda")]
    assert digest(rig.instances_path / uuid / "disk") == kept


async def test_a_rescued_server_stays_rescued_at_start_even_without_its_guest(
    rig: ComputeRig,
) -> None:
    uuid = await active(rig)
    await rescued(rig, uuid)
    await recovery.init_host(rig.manager.ctx)
    assert rig.current(uuid)["vm_state"] == st.RESCUED
    assert disks_of(rig, uuid)[0] == ("disk.rescue", "vda")
    rig.driver.destroy(uuid)  # the hypervisor forgot it (test driver, host reboot)
    await recovery.init_host(rig.manager.ctx)
    assert (rig.current(uuid)["vm_state"], rig.current(uuid)["task_state"]) == (st.RESCUED, None)
    await rig.manager.unrescue_instance(instance=rig.set_task(uuid, st.UNRESCUING), request_id="u")
    assert rig.current(uuid)["vm_state"] == st.ACTIVE, rig.conductor.faults
    assert disks_of(rig, uuid) == [("disk", "vda")]


async def test_deleting_a_rescued_server_removes_its_rescue_files(rig: ComputeRig) -> None:
    uuid = await active(rig)
    await rescued(rig, uuid)
    await rig.manager.terminate_instance(instance=rig.set_task(uuid, st.DELETING), request_id="d")
    assert rig.conductor.destroyed == [uuid]
    assert not (rig.instances_path / uuid).exists()
    assert uuid not in {g.uuid for g in rig.driver.list_guests()}


def boot_order_of(rig: ComputeRig, uuid: str) -> tuple[list[str], list[tuple[str, str, str]]]:
    """The `<os><boot dev>`s and (file, target, boot order) of every disk."""
    root = ET.fromstring(rig.driver.domain_xml(uuid))
    devs = [b.get("dev", "") for b in root.findall("os/boot")]
    found = []
    for d in root.findall("devices/disk"):
        boot = d.find("boot")
        found.append(
            (
                Path(d.find("source").get("file", "")).name,  # type: ignore[union-attr]
                f"{d.get('device')}:{d.find('target').get('bus')}:{d.find('target').get('dev')}",  # type: ignore[union-attr]
                boot.get("order", "") if boot is not None else "",
            )
        )
    return devs, found


@pytest.mark.parametrize(
    ("props", "where"),
    [
        ({"hw_rescue_device": "disk", "hw_rescue_bus": "virtio"}, "disk:virtio:vdc"),
        ({"hw_rescue_device": "disk", "hw_rescue_bus": "scsi"}, "disk:scsi:sda"),
        ({"hw_rescue_device": "cdrom", "hw_rescue_bus": "ide"}, "cdrom:ide:hda"),
        ({"hw_rescue_bus": "usb"}, "disk:usb:sda"),
    ],
)
async def test_stable_rescue_keeps_every_disk_and_boots_the_rescue_disk(
    rig: ComputeRig, props: dict, where: str
) -> None:
    make_image(rig.store, OTHER)
    inst = rig.add(make_instance(IMG, config_drive="True"))
    uuid = inst["uuid"]
    await rig.manager.build_and_run_instance(instance=inst, request_id="b")
    await rescued(rig, uuid, {"id": OTHER, "disk_format": "qcow2", "properties": props})
    assert rig.current(uuid)["vm_state"] == st.RESCUED, rig.conductor.faults
    devs, found = boot_order_of(rig, uuid)
    assert devs == []  # a disk's boot order excludes <os><boot dev>
    assert found == [
        ("disk", "disk:virtio:vda", ""),
        ("disk.config", "disk:virtio:vdb", ""),
        ("disk.rescue", where, "1"),
    ]
    assert not (rig.instances_path / uuid / "disk.config.rescue").exists()
    await rig.manager.unrescue_instance(instance=rig.set_task(uuid, st.UNRESCUING), request_id="u")
    devs, found = boot_order_of(rig, uuid)
    assert devs == ["hd"] and [f for f, _, _ in found] == ["disk", "disk.config"]


async def test_an_unknown_rescue_bus_fails_the_rescue_on_the_original_disk(
    rig: ComputeRig,
) -> None:
    make_image(rig.store, OTHER)
    uuid = await active(rig)
    image = {"id": OTHER, "disk_format": "qcow2", "properties": {"hw_rescue_bus": "pcie"}}
    await rescued(rig, uuid, image)
    assert rig.current(uuid)["vm_state"] == st.ERROR
    assert rig.conductor.faults[0]["message"] == (
        "Requested rescue bus 'pcie' is not supported by this host"
    )
    assert disks_of(rig, uuid) == [("disk", "vda")]
