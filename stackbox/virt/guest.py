"""One libvirt domain: `Guest` wraps a `virDomain` with the operations the compute service
uses (start, ACPI shutdown, force off, undefine, reset/reboot, pause/resume, managed save
and restore) and its state as stackbox power-state numbers plus libvirt's state name.

libvirt errors leave as `driver.VirtError` / `driver.GuestNotFound` (see `translate`).
Calls block: run them in threads. Not here: the connection (`host.py`), deciding what to
do (`libvirt_driver.py`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import libvirt

from stackbox.compute import states
from stackbox.virt.config_metadata import NS_STACKBOX
from stackbox.virt.driver import GuestNotFound, GuestState, VirtError
from stackbox.virt.ownership import Mark, read_mark

LOG = logging.getLogger(__name__)

# libvirt's state names, as `virsh domstate` (and the seed 001 script) print them
STATE_NAMES: dict[int, str] = {
    libvirt.VIR_DOMAIN_NOSTATE: "no state",
    libvirt.VIR_DOMAIN_RUNNING: "running",
    libvirt.VIR_DOMAIN_BLOCKED: "idle",
    libvirt.VIR_DOMAIN_PAUSED: "paused",
    libvirt.VIR_DOMAIN_SHUTDOWN: "in shutdown",
    libvirt.VIR_DOMAIN_SHUTOFF: "shut off",
    libvirt.VIR_DOMAIN_CRASHED: "crashed",
    libvirt.VIR_DOMAIN_PMSUSPENDED: "suspended by PM",
}

# libvirt state -> stackbox power_state (Nova's mapping; "in shutdown" still runs)
POWER_STATES: dict[int, int] = {
    libvirt.VIR_DOMAIN_NOSTATE: states.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: states.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: states.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: states.PAUSED_POWER,
    libvirt.VIR_DOMAIN_SHUTDOWN: states.RUNNING,
    libvirt.VIR_DOMAIN_SHUTOFF: states.SHUTDOWN,
    libvirt.VIR_DOMAIN_CRASHED: states.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: states.SUSPENDED_POWER,
}


@contextlib.contextmanager
def translate(what: str, uuid: str = "") -> Iterator[None]:
    """Turn a libvirtError raised inside into VirtError("<what>: <libvirt's message>"),
    or GuestNotFound when the domain does not exist."""
    try:
        yield
    except libvirt.libvirtError as exc:
        code = exc.get_error_code()
        msg = exc.get_error_message() or str(exc)
        if code == libvirt.VIR_ERR_NO_DOMAIN:
            raise GuestNotFound(f"no guest {uuid} on this host" if uuid else msg) from exc
        raise VirtError(f"{what}: {msg}") from exc


def power_state(state: int, has_managed_save: bool = False) -> int:
    """stackbox power_state of a libvirt state; a shut-off guest with a managed-save
    image is SUSPENDED (it was suspended, `resume` restores its memory)."""
    if state == libvirt.VIR_DOMAIN_SHUTOFF and has_managed_save:
        return states.SUSPENDED_POWER
    return POWER_STATES.get(state, states.NOSTATE)


class Guest:
    """A libvirt domain. Cheap to create; holds the virDomain of one connection."""

    def __init__(self, domain: libvirt.virDomain) -> None:
        self._dom = domain

    def __repr__(self) -> str:
        return f"<Guest {self.name} {self.uuid}>"

    @property
    def uuid(self) -> str:
        return str(self._dom.UUIDString())

    @property
    def name(self) -> str:
        return str(self._dom.name())

    def _do(self, what: str) -> contextlib.AbstractContextManager[None]:
        return translate(f"cannot {what} guest {self.name}", self.uuid)

    # -- state --------------------------------------------------------------------------

    def is_active(self) -> bool:
        with self._do("read the state of"):
            return bool(self._dom.isActive())

    def has_managed_save(self) -> bool:
        with self._do("read the managed-save state of"):
            return bool(self._dom.hasManagedSaveImage(0))

    def get_state(self) -> GuestState:
        """Power state (stackbox.compute.states numbers) and libvirt's state name."""
        with self._do("read the state of"):
            state, _reason = self._dom.state(0)
            saved = state == libvirt.VIR_DOMAIN_SHUTOFF and bool(self._dom.hasManagedSaveImage(0))
        return GuestState(
            uuid=self.uuid,
            name=self.name,
            power_state=power_state(state, saved),
            state_name=STATE_NAMES.get(state, "no state"),
        )

    def xml_desc(self, *, inactive: bool = False, secure: bool = False) -> str:
        flags = (libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0) | (
            libvirt.VIR_DOMAIN_XML_SECURE if secure else 0
        )
        with self._do("read the XML of"):
            return str(self._dom.XMLDesc(flags))

    def mark(self) -> Mark:
        """Its stackbox metadata (whose guest it is: `virt/ownership.py`) and disk files."""
        return read_mark(self.xml_desc(inactive=True))

    def set_stackbox_metadata(self, element: str) -> None:
        """Replace our `<stackbox:instance>` element, in the definition and (if running)
        in the live guest."""
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        if self.is_active():
            flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
        with self._do("set the metadata of"):
            self._dom.setMetadata(
                libvirt.VIR_DOMAIN_METADATA_ELEMENT, element, "stackbox", NS_STACKBOX, flags
            )

    # -- power ------------------------------------------------------------------------

    def launch(self, *, paused: bool = False) -> None:
        """Start the guest (restores its memory when it has a managed-save image).

        A QEMU that dies while libvirt sets it up ("qemu unexpectedly closed the
        monitor", seen here when other clients start guests at the same moment) gets
        one more try; a definition QEMU refuses fails the same way twice."""
        flags = libvirt.VIR_DOMAIN_START_PAUSED if paused else 0
        for attempt in (1, 2):
            try:
                with self._do("start"):
                    self._dom.createWithFlags(flags)
                return
            except VirtError as exc:
                cause = exc.__cause__
                transient = (
                    isinstance(cause, libvirt.libvirtError)
                    and cause.get_error_code() == libvirt.VIR_ERR_INTERNAL_ERROR
                    and "unexpectedly closed the monitor" in str(cause)
                )
                if attempt == 2 or not transient or self._dom.isActive():
                    raise
                LOG.warning("guest %s died while starting (%s); trying once more", self, exc)

    def shutdown(self) -> None:
        """Ask the guest OS to power off (ACPI); returns at once."""
        with self._do("shut down"):
            self._dom.shutdown()

    def destroy(self) -> None:
        """Force the guest off (pull the plug); no error when it is not running. QEMU
        sometimes needs a moment to die (EBUSY on SIGKILL): retried a few times."""
        for attempt in range(3):
            try:
                with self._do("power off"):
                    if not self._dom.isActive():
                        return
                    self._dom.destroy()
                    return
            except VirtError as exc:
                cause = exc.__cause__
                code = cause.get_error_code() if isinstance(cause, libvirt.libvirtError) else 0
                if code == libvirt.VIR_ERR_OPERATION_INVALID and not self.is_active():
                    return  # it stopped between the check and the call
                if code != libvirt.VIR_ERR_SYSTEM_ERROR or attempt == 2:
                    raise
                time.sleep(0.5)

    def reboot(self) -> None:
        """Ask the guest OS to reboot (ACPI)."""
        with self._do("reboot"):
            self._dom.reboot(0)

    def reset(self) -> None:
        """Reset the virtual hardware (like the reset button); the guest keeps running."""
        with self._do("reset"):
            self._dom.reset(0)

    def undefine(self) -> None:
        """Remove the definition, with its managed-save image and (UEFI) NVRAM file."""
        with self._do("undefine"):
            flags = 0
            if self._dom.hasManagedSaveImage(0):
                flags |= libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
            if "<nvram" in self._dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE):
                flags |= libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
            if self._dom.snapshotNum(0) > 0:
                flags |= libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
            self._dom.undefineFlags(flags)

    # -- freeze / thaw ----------------------------------------------------------------

    def pause(self) -> None:
        """Stop the vCPUs; memory stays in the QEMU process (libvirt "suspend")."""
        with self._do("pause"):
            self._dom.suspend()

    def resume(self) -> None:
        """Let a paused guest's vCPUs run again."""
        with self._do("unpause"):
            self._dom.resume()

    def managed_save(self) -> None:
        """Save the guest's memory to libvirt's managed-save file and stop it."""
        with self._do("save"):
            self._dom.managedSave(0)

    def discard_managed_save(self) -> None:
        """Delete the managed-save image: the next start boots afresh."""
        with self._do("discard the saved memory of"):
            self._dom.managedSaveRemove(0)

    def restore(self) -> None:
        """Start a guest from its managed-save image (same call as launch)."""
        self.launch()
