"""The libvirt hypervisor driver: implements `driver.VirtDriver` (GuestLifecycle,
GuestControl, GuestInfo, GuestRescue) on top of `Host`/`Guest`, for `qemu:///system` (real QEMU
guests, TCG or KVM) and libvirt's own `test:///default` (no QEMU; same code path).

It orchestrates only: the XML comes from `designer.build_domain` (rendered by
`config.Domain`), disks were made by `stackbox.compute.disks` before `spawn`. It acts
only on guests marked with its `cloud_id` (`ownership.py`): any other domain on the
libvirtd (another cloud's, a wiped cloud's, not stackbox's) is GuestNotFound to it, is
missing from `list_guests` and is never started, stopped or undefined. Every
method blocks (the compute manager calls them in threads) and raises `driver.VirtError`
/ `driver.GuestNotFound`. Not here: the database, the bus, disk files, XML decisions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import time
from pathlib import Path

from stackbox.compute import pci, states
from stackbox.virt import designer, diagnostics, numa, ownership
from stackbox.virt.driver import (
    BootInfo,
    GuestNotFound,
    GuestState,
    HostResources,
    InstanceSpec,
    VirtError,
)
from stackbox.virt.guest import Guest
from stackbox.virt.host import Host

LOG = logging.getLogger(__name__)
GiB = 1024**3
POLL = 0.2  # seconds between state checks while waiting for a shutdown
RESEND = 10.0  # seconds between repeated ACPI shutdown requests
# The guest's own definition while it is rescued (Nova's name, in the instance dir).
UNRESCUE_XML = "unrescue.xml"


class LibvirtDriver:
    """A compute host's hypervisor, through one libvirt connection."""

    def __init__(
        self,
        uri: str,
        host_config: designer.GuestHostConfig,
        instances_path: Path,
        shutdown_timeout: float = 60.0,
        cloud_id: str | None = None,
    ) -> None:
        self.uri = uri
        self.host_config = host_config
        self.instances_path = Path(instances_path)
        self.shutdown_timeout = shutdown_timeout
        # None until the compute manager learnt it: then no guest is ours
        self.cloud_id = cloud_id
        self.host = Host(uri)

    # -- ownership --------------------------------------------------------------------

    def _is_ours(self, guest: Guest) -> bool:
        try:
            mark = guest.mark()
        except GuestNotFound:
            return False
        return ownership.owner(mark, self.cloud_id) is ownership.Owner.THIS

    def _find(self, uuid: str) -> Guest | None:
        """Our guest with this uuid; None when there is none or it is not ours."""
        guest = self.host.find_guest(uuid)
        return guest if guest is not None and self._is_ours(guest) else None

    def _lookup(self, uuid: str) -> Guest:
        guest = self._find(uuid)
        if guest is None:
            raise GuestNotFound(f"no guest {uuid} of this cloud on this host")
        return guest

    def adopt(self, uuid: str) -> bool:
        """Mark the guest `uuid` as this cloud's if it carries stackbox metadata without
        a cloud id (defined before clouds had ids); True if it was adopted. The caller
        knows the uuid is one of its instances."""
        guest = self.host.find_guest(uuid)
        if guest is None or self.cloud_id is None:
            return False
        mark = guest.mark()
        if mark.metadata is None or ownership.owner(mark, self.cloud_id) is not (
            ownership.Owner.UNMARKED
        ):
            return False
        guest.set_stackbox_metadata(ownership.marked(mark.metadata, self.cloud_id, uuid))
        return True

    def _check_free(self, spec: InstanceSpec) -> None:
        """Refuse to redefine a domain that is not ours (same uuid or same name)."""
        for guest in (self.host.find_guest(spec.uuid), self.host.find_guest_by_name(spec.name)):
            if guest is None or self._is_ours(guest):
                continue
            who = ownership.describe(guest.mark(), self.cloud_id)
            raise VirtError(
                f"libvirt domain {guest.name} ({guest.uuid}) exists and is not of this cloud "
                f"({who}): guest {spec.name} ({spec.uuid}) cannot be defined; "
                "`stackbox virt domains` lists the domains and their owners"
            )

    # -- GuestLifecycle ---------------------------------------------------------------

    def spawn(self, spec: InstanceSpec, boot: BootInfo) -> None:
        """Write `libvirt.xml` into the instance dir, define the guest (marked as this
        cloud's) and start it."""
        if self.cloud_id is None:
            raise VirtError("this compute host does not know its cloud id yet")
        spec = dataclasses.replace(spec, cloud_id=self.cloud_id)
        self._check_free(spec)
        xml = designer.build_domain(spec, boot, self.host_config).to_xml_string()
        boot.instance_dir.mkdir(parents=True, exist_ok=True)
        tmp = boot.instance_dir / "libvirt.xml.tmp"
        tmp.write_text(xml)
        os.replace(tmp, boot.instance_dir / "libvirt.xml")
        existing = self._find(spec.uuid)
        if existing is not None and existing.is_active():
            raise VirtError(f"guest {spec.name} ({spec.uuid}) is already running")
        guest = self.host.define(xml)
        if guest.has_managed_save():  # memory saved by an earlier life: boot afresh
            guest.discard_managed_save()
        try:
            guest.launch()
        except VirtError:
            LOG.warning("guest %s did not start; removing its definition", spec.uuid)
            try:
                guest.destroy()
                guest.undefine()
            except VirtError:
                LOG.exception("cleanup of guest %s failed", spec.uuid)
            raise

    def destroy(self, uuid: str) -> None:
        """Force off and undefine (managed-save image included); missing (or not ours)
        is fine."""
        guest = self._find(uuid)
        if guest is None:
            return
        try:
            guest.destroy()
            guest.undefine()
        except GuestNotFound:
            return

    def reboot(self, uuid: str, hard: bool) -> None:
        guest = self._lookup(uuid)
        if not hard and guest.get_state().power_state == states.RUNNING:
            guest.shutdown()
            if self._wait_shutoff(guest, self.shutdown_timeout):
                guest.launch()
                return
            LOG.info("guest %s ignored the ACPI shutdown; rebooting hard", uuid)
        self._hard_reboot(guest)

    def power_off(self, uuid: str, timeout: float) -> None:
        guest = self._lookup(uuid)
        if not guest.is_active():
            return
        # a paused guest cannot act on the ACPI event: force it off at once
        if timeout > 0 and guest.get_state().power_state == states.RUNNING:
            try:
                guest.shutdown()
            except VirtError as exc:  # e.g. a paused guest cannot take ACPI events
                LOG.info("clean shutdown of %s refused (%s); forcing off", uuid, exc)
            else:
                if self._wait_shutoff(guest, timeout):
                    return
        guest.destroy()

    def power_on(self, uuid: str) -> None:
        guest = self._lookup(uuid)
        if not guest.is_active():
            guest.launch()

    # -- GuestRescue ------------------------------------------------------------------

    def rescue(self, spec: InstanceSpec, boot: BootInfo) -> None:
        """Save the definition to `unrescue.xml` (kept if one is there: after a failed
        rescue the guest may be defined with rescue disks, the file has the original),
        force the guest off and boot it from `boot`, under the same name and uuid."""
        if self.cloud_id is None:
            raise VirtError("this compute host does not know its cloud id yet")
        guest = self._lookup(spec.uuid)
        saved = boot.instance_dir / UNRESCUE_XML
        if not saved.exists():
            _write_file(saved, guest.xml_desc(inactive=True))
        spec = dataclasses.replace(spec, cloud_id=self.cloud_id)
        xml = designer.build_domain(spec, boot, self.host_config).to_xml_string()
        self._force_off(guest)
        self.host.define(xml).launch()

    def unrescue(self, uuid: str, instance_dir: Path, *, start: bool = True) -> bool:
        """Redefine the guest from `unrescue.xml` (only a definition of this guest of this
        cloud), drop the file, start the guest unless `start` is False."""
        saved = Path(instance_dir) / UNRESCUE_XML
        if not saved.exists():
            return False
        xml = saved.read_text()
        found = ownership.read_mark(xml)
        if (
            ownership.owner(found, self.cloud_id) is not ownership.Owner.THIS
            or found.metadata is None
            or found.metadata.instance_uuid != uuid
        ):
            raise VirtError(f"{saved} is no definition of guest {uuid} of this cloud")
        guest = self._find(uuid)
        if guest is not None:
            self._force_off(guest)
        guest = self.host.define(xml)
        saved.unlink()  # the original is libvirt's definition again
        if start:
            guest.launch()
        return True

    @staticmethod
    def _force_off(guest: Guest) -> None:
        """Off at once, without saved memory: the next start boots afresh."""
        guest.destroy()
        if guest.has_managed_save():
            guest.discard_managed_save()

    # -- GuestControl -----------------------------------------------------------------

    def pause(self, uuid: str) -> None:
        self._lookup(uuid).pause()

    def unpause(self, uuid: str) -> None:
        self._lookup(uuid).resume()

    def suspend(self, uuid: str) -> None:
        """Managed save: the guest's memory goes to disk, the guest stops."""
        self._lookup(uuid).managed_save()

    def resume(self, uuid: str) -> None:
        """Start from the managed-save image (a plain start when there is none)."""
        guest = self._lookup(uuid)
        if not guest.is_active():
            guest.restore()

    # -- GuestInfo --------------------------------------------------------------------

    def state(self, uuid: str) -> GuestState:
        return self._lookup(uuid).get_state()

    def list_guests(self) -> list[GuestState]:
        """The guests of this cloud."""
        found = []
        for guest in self.host.list_guests():
            if not self._is_ours(guest):
                continue
            try:
                found.append(guest.get_state())
            except GuestNotFound:  # undefined while we looked
                continue
        return found

    def domain_xml(self, uuid: str) -> str:
        return self._lookup(uuid).xml_desc()

    def diagnostics(self, uuid: str) -> dict:
        self._lookup(uuid)  # GuestNotFound for an unknown or malformed uuid
        conn = self.host.get_connection()
        return diagnostics.for_guest(conn, uuid, self.host.hypervisor_type())

    def host_resources(self) -> HostResources:
        node = self.host.node_info()
        caps = self.host.capabilities()
        test = self.host_config.virt_type == "test"
        # the test driver pretends to be an i686 box; report what our guests are made as
        arch = self.host_config.arch if test or not caps.arch else caps.arch
        self.instances_path.mkdir(parents=True, exist_ok=True)
        disk = shutil.disk_usage(self.instances_path)
        topology = caps.topology
        cpu_info = {
            "arch": arch,
            "model": caps.model or node.model,
            "vendor": caps.vendor or "",
            "topology": {
                "sockets": topology.sockets if topology else node.sockets,
                "cores": topology.cores if topology else node.cores,
                "threads": topology.threads if topology else node.threads,
            },
            "features": sorted(caps.features),
        }
        virt_type = self.host_config.virt_type
        supported = [(a, d, o) for a, d, o in caps.guests if d == virt_type and o == "hvm"]
        if test or not supported:
            supported = [(arch, virt_type, "hvm")]
        return HostResources(
            hostname=self.host.hostname(),
            vcpus=node.cpus,
            memory_mb=node.memory_mb,
            local_gb=disk.total // GiB,
            free_disk_gb=disk.free // GiB,
            hypervisor_type="test" if test else "QEMU",
            hypervisor_version=self.host.hypervisor_version(),
            arch=arch,
            cpu_info=cpu_info,
            supported_instances=tuple(supported),
            **placement_resources(self.host),
        )

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def _wait_shutoff(guest: Guest, timeout: float) -> bool:
        """Wait up to timeout s for the guest to stop, repeating the ACPI request every
        RESEND s (a guest still booting may miss the first one, as Nova notes)."""
        start = time.monotonic()
        deadline, resend = start + timeout, start + RESEND
        while True:
            if not guest.is_active():
                return True
            now = time.monotonic()
            if now >= deadline:
                return False
            if now >= resend:
                resend = now + RESEND
                # stopped meanwhile, or not accepting: keep waiting either way
                with contextlib.suppress(VirtError):
                    guest.shutdown()
            time.sleep(min(POLL, max(0.0, deadline - now)))

    @staticmethod
    def _hard_reboot(guest: Guest) -> None:
        """Power cycle with the stored definition (picks up a redefined XML); a saved
        memory image is discarded: the guest boots afresh."""
        guest.destroy()
        if guest.has_managed_save():
            guest.discard_managed_save()
        guest.launch()


def _write_file(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (a crash leaves the old file or the new one)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def placement_resources(host: Host) -> dict:
    """NUMA cells (capabilities) and PCI node devices, for HostResources."""
    devices = [pci.parse_node_device(x) for x in host.pci_device_xmls()]
    return {
        "numa_topology": numa.parse_capabilities(host.capabilities_xml()),
        "pci_devices": [d for d in devices if d is not None],
    }
