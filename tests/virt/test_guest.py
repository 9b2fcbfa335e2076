"""Guest: one libvirt domain, exercised on libvirt's own test:///default hypervisor."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterator

import libvirt
import pytest

from stackbox.compute import states
from stackbox.virt.driver import GuestNotFound, VirtError
from stackbox.virt.guest import Guest, power_state
from stackbox.virt.host import Host


def domain_xml(uuid: str, name: str) -> str:
    return (
        f"<domain type='test'><name>{name}</name><uuid>{uuid}</uuid>"
        "<memory unit='MiB'>64</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64'>hvm</type></os></domain>"
    )


@pytest.fixture
def guest() -> Iterator[Guest]:
    host = Host("test:///default")
    uuid = str(uuidlib.uuid4())
    g = host.define(domain_xml(uuid, f"guest-{uuid[:8]}"))
    yield g
    if (left := host.find_guest(uuid)) is not None:
        left.destroy()
        left.undefine()
    host.close()


def test_power_states_follow_nova() -> None:
    assert power_state(libvirt.VIR_DOMAIN_RUNNING) == states.RUNNING
    assert power_state(libvirt.VIR_DOMAIN_BLOCKED) == states.RUNNING
    assert power_state(libvirt.VIR_DOMAIN_PAUSED) == states.PAUSED_POWER
    assert power_state(libvirt.VIR_DOMAIN_SHUTOFF) == states.SHUTDOWN
    assert power_state(libvirt.VIR_DOMAIN_SHUTOFF, True) == states.SUSPENDED_POWER
    assert power_state(libvirt.VIR_DOMAIN_CRASHED) == states.CRASHED
    assert power_state(libvirt.VIR_DOMAIN_PMSUSPENDED) == states.SUSPENDED_POWER
    assert power_state(99) == states.NOSTATE


def test_defined_guest_is_shut_off_then_runs(guest: Guest) -> None:
    st = guest.get_state()
    assert (st.power_state, st.state_name) == (states.SHUTDOWN, "shut off")
    assert st.uuid == guest.uuid and st.name.startswith("guest-")
    guest.launch()
    assert guest.is_active() and guest.get_state().state_name == "running"
    assert f"<uuid>{guest.uuid}</uuid>" in guest.xml_desc()


def test_pause_and_resume(guest: Guest) -> None:
    guest.launch()
    guest.pause()
    assert guest.get_state().state_name == "paused"
    assert guest.get_state().power_state == states.PAUSED_POWER
    guest.resume()
    assert guest.get_state().power_state == states.RUNNING


def test_managed_save_restore_and_discard(guest: Guest) -> None:
    guest.launch()
    guest.managed_save()
    st = guest.get_state()
    assert not guest.is_active() and guest.has_managed_save()
    assert (st.power_state, st.state_name) == (states.SUSPENDED_POWER, "shut off")
    guest.restore()
    assert guest.is_active() and not guest.has_managed_save()
    guest.managed_save()
    guest.discard_managed_save()
    assert guest.get_state().power_state == states.SHUTDOWN


def test_shutdown_reboot_reset_destroy(guest: Guest) -> None:
    guest.launch()
    guest.reboot()
    guest.reset()
    assert guest.is_active()
    guest.shutdown()  # the test hypervisor's guests obey ACPI at once
    assert not guest.is_active()
    guest.destroy()  # not running: no error
    guest.launch()
    guest.destroy()
    assert guest.get_state().state_name == "shut off"


def test_undefine_also_removes_the_managed_save_image(guest: Guest) -> None:
    guest.launch()
    guest.managed_save()
    guest.undefine()
    with pytest.raises(GuestNotFound):
        Host("test:///default").lookup_guest(guest.uuid)


def test_errors_are_virt_errors_with_the_guest_name(guest: Guest) -> None:
    with pytest.raises(VirtError, match=r"cannot pause guest guest-.*not running"):
        guest.pause()
    guest.undefine()
    with pytest.raises(GuestNotFound, match=f"no guest {guest.uuid}"):
        guest.get_state()
