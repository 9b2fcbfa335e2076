"""LibvirtDriver: the whole guest lifecycle on libvirt's test:///default, and one real
QEMU (TCG) guest on qemu:///system when libvirtd can run here."""

from __future__ import annotations

import datetime as dt
import os
import uuid as uuidlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from stackbox import config, privileged
from stackbox.compute import disks, states
from stackbox.virt import driver, select
from stackbox.virt.driver import BootInfo, DiskInfo, FlavorSpec, ImageMeta, InstanceSpec
from stackbox.virt.libvirt_driver import LibvirtDriver

TEST_URI = "test:///default"
CLOUD = uuidlib.uuid4().hex  # this run's cloud: the drivers act on its guests only


def make_instance(instances: Path, base: Path) -> tuple[InstanceSpec, BootInfo]:
    """A minimal instance with a real root overlay on `base` in instances/<uuid>/."""
    uuid = str(uuidlib.uuid4())
    inst = instances / uuid
    disks.create_root_disk(base, inst / "disk", 1, "qcow2")
    spec = InstanceSpec(
        uuid=uuid,
        name=f"instance-{uuid[:8]}",
        display_name="vm1",
        project_id="p1",
        user_id="u1",
        flavor=FlavorSpec("1", "m1.tiny", vcpus=1, memory_mb=128, root_gb=1),
        image=ImageMeta("img-1", name="tiny", disk_format="qcow2"),
        created_at=dt.datetime(2026, 11, 23, tzinfo=dt.UTC),
    )
    boot = BootInfo(
        instance_dir=inst,
        disks=(DiskInfo("vda", inst / "disk"),),
        console_log=inst / "console.log",
    )
    return spec, boot


@pytest.fixture
def base(tmp_path: Path) -> Path:
    if not privileged.available("qemu-img"):
        pytest.skip("needs qemu-img (qemu-utils)")
    path = tmp_path / "_base" / "image"
    path.parent.mkdir()
    privileged.run(["qemu-img", "create", "-q", "-f", "qcow2", "--", str(path), "64M"])
    return path


@pytest.fixture
def drv(tmp_path: Path) -> Iterator[LibvirtDriver]:
    d = LibvirtDriver(
        TEST_URI,
        select.guest_host_config(config.load(env={}), TEST_URI),
        tmp_path,
        shutdown_timeout=2,
        cloud_id=CLOUD,
    )
    before = {g.uuid for g in d.list_guests()}
    yield d
    for g in d.list_guests():
        if g.uuid not in before:
            d.destroy(g.uuid)
    d.host.close()


def test_is_a_virt_driver(drv: LibvirtDriver) -> None:
    for proto in (driver.GuestLifecycle, driver.GuestControl, driver.GuestInfo):
        assert isinstance(drv, proto)


def test_full_lifecycle(drv: LibvirtDriver, base: Path) -> None:
    spec, boot = make_instance(drv.instances_path, base)

    def state() -> tuple[int, str]:
        st = drv.state(spec.uuid)
        return st.power_state, st.state_name

    drv.spawn(spec, boot)
    assert state() == (states.RUNNING, "running")
    xml = (boot.instance_dir / "libvirt.xml").read_text()
    assert spec.uuid in xml and spec.uuid in drv.domain_xml(spec.uuid)
    assert spec.uuid in {g.uuid for g in drv.list_guests()}

    drv.pause(spec.uuid)
    assert state() == (states.PAUSED_POWER, "paused")
    drv.unpause(spec.uuid)
    assert state() == (states.RUNNING, "running")
    drv.suspend(spec.uuid)
    assert state() == (states.SUSPENDED_POWER, "shut off")
    drv.resume(spec.uuid)
    assert state() == (states.RUNNING, "running")
    drv.reboot(spec.uuid, hard=False)
    assert state() == (states.RUNNING, "running")
    drv.reboot(spec.uuid, hard=True)
    assert state() == (states.RUNNING, "running")
    drv.power_off(spec.uuid, timeout=2)
    assert state() == (states.SHUTDOWN, "shut off")
    drv.power_off(spec.uuid, timeout=2)  # already off: nothing to do
    drv.power_on(spec.uuid)
    assert state() == (states.RUNNING, "running")

    drv.destroy(spec.uuid)
    with pytest.raises(driver.GuestNotFound):
        drv.state(spec.uuid)
    assert spec.uuid not in {g.uuid for g in drv.list_guests()}
    drv.destroy(spec.uuid)  # gone already: no error


def test_destroy_removes_a_suspended_guest_and_hard_reboot_forgets_saved_memory(
    drv: LibvirtDriver, base: Path
) -> None:
    spec, boot = make_instance(drv.instances_path, base)
    drv.spawn(spec, boot)
    drv.suspend(spec.uuid)
    drv.reboot(spec.uuid, hard=True)  # a suspended server may be hard-rebooted
    assert drv.state(spec.uuid).power_state == states.RUNNING
    assert not drv.host.lookup_guest(spec.uuid).has_managed_save()
    drv.suspend(spec.uuid)
    drv.spawn(spec, boot)  # spawning again (rebuild) boots afresh, not the saved memory
    assert not drv.host.lookup_guest(spec.uuid).has_managed_save()
    drv.suspend(spec.uuid)
    drv.destroy(spec.uuid)
    assert drv.host.find_guest(spec.uuid) is None


def test_paused_guest_powers_off_at_once_and_soft_reboot_goes_hard(
    drv: LibvirtDriver, base: Path
) -> None:
    spec, boot = make_instance(drv.instances_path, base)
    drv.spawn(spec, boot)
    drv.pause(spec.uuid)
    drv.reboot(spec.uuid, hard=False)  # a paused guest cannot take ACPI: power cycle
    assert drv.state(spec.uuid).power_state == states.RUNNING
    drv.pause(spec.uuid)
    drv.power_off(spec.uuid, timeout=30)
    assert drv.state(spec.uuid).power_state == states.SHUTDOWN


def test_spawn_of_a_running_guest_and_actions_on_missing_guests_fail(
    drv: LibvirtDriver, base: Path
) -> None:
    spec, boot = make_instance(drv.instances_path, base)
    drv.spawn(spec, boot)
    with pytest.raises(driver.VirtError, match="already running"):
        drv.spawn(spec, boot)
    missing = str(uuidlib.uuid4())
    for action in (drv.pause, drv.unpause, drv.suspend, drv.resume, drv.power_on):
        with pytest.raises(driver.GuestNotFound, match=missing):
            action(missing)
    with pytest.raises(driver.VirtError, match="cannot unpause"):
        drv.unpause(spec.uuid)  # running, not paused


def test_host_resources(drv: LibvirtDriver) -> None:
    res = drv.host_resources()
    assert res.hypervisor_type == "test" and res.arch == "x86_64"
    assert res.vcpus > 0 and res.memory_mb > 0
    assert 0 <= res.free_disk_gb <= res.local_gb and res.local_gb > 0
    assert res.hypervisor_version >= 9_000_000
    assert res.supported_instances == (("x86_64", "test", "hvm"),)
    assert res.cpu_info["topology"]["sockets"] >= 1 and res.hostname


def _qemu_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "a real QEMU guest needs root (libvirtd runs as root here)"
    from stackbox.virt import daemon

    try:
        daemon.ensure_libvirtd()
    except daemon.LibvirtUnavailable as exc:
        return f"qemu:///system unavailable: {exc}"
    return None


def test_real_tcg_guest_runs_and_is_destroyed(tmp_path: Path, base: Path) -> None:
    if (why := _qemu_unavailable()) is not None:
        pytest.skip(why)
    uri = "qemu:///system"
    cfg = config.load(env={}, overrides={("compute", "virt_type"): "qemu"})
    drv = LibvirtDriver(uri, select.guest_host_config(cfg, uri), tmp_path, 1.0, CLOUD)
    spec, boot = make_instance(tmp_path, base)
    drv.spawn(spec, boot)
    try:
        assert drv.state(spec.uuid).state_name == "running"
        assert "type='qemu'" in drv.domain_xml(spec.uuid).split("\n", 1)[0].replace('"', "'")
        drv.pause(spec.uuid)
        assert drv.state(spec.uuid).state_name == "paused"
        drv.unpause(spec.uuid)
        drv.suspend(spec.uuid)  # managed save of a real QEMU process
        assert drv.state(spec.uuid).power_state == states.SUSPENDED_POWER
        drv.resume(spec.uuid)
        assert drv.state(spec.uuid).state_name == "running"
        # no OS answers ACPI in this guest: soft reboot and clean stop fall back to force
        drv.reboot(spec.uuid, hard=False)
        assert drv.state(spec.uuid).state_name == "running"
        drv.power_off(spec.uuid, timeout=0.5)
        assert drv.state(spec.uuid).state_name == "shut off"
        drv.power_on(spec.uuid)
        res = drv.host_resources()
        assert res.hypervisor_type == "QEMU" and ("x86_64", "qemu", "hvm") in (
            res.supported_instances
        )
    finally:
        drv.destroy(spec.uuid)
        drv.host.close()
    assert drv.host.find_guest(spec.uuid) is None


def test_concurrent_spawns_and_destroys_from_threads(drv: LibvirtDriver, base: Path) -> None:
    made = [make_instance(drv.instances_path, base) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda sb: drv.spawn(*sb), made))
        running = {g.uuid: g.power_state for g in drv.list_guests()}
        assert all(running[s.uuid] == states.RUNNING for s, _ in made)
        list(pool.map(lambda sb: drv.destroy(sb[0].uuid), made))
    assert not {s.uuid for s, _ in made} & {g.uuid for g in drv.list_guests()}
