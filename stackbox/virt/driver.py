"""What the compute service asks of a hypervisor: small typed interfaces and the data
that crosses them. No libvirt here (see `libvirt_driver.py`), no database, no policy.

The compute manager prepares everything on disk first (disks, config drive, kernel and
ramdisk in the image cache; `stackbox/compute/disks.py`), describes it in a `BootInfo`,
and hands the driver an `InstanceSpec` + `BootInfo`. The driver turns them into a
hypervisor guest (for libvirt: `designer.build_domain(...)` → `config.Domain` → XML).

Network interfaces and volumes plug in through `BootInfo.interfaces` and
`BootInfo.disks` (later issues fill them); the driver does not care where they came from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable


class VirtError(Exception):
    """A hypervisor operation failed; the message is fit for an instance fault."""


class GuestNotFound(VirtError):
    """The hypervisor has no guest by that uuid (of this cloud: another's is not ours)."""


@dataclass(frozen=True)
class FlavorSpec:
    flavorid: str
    name: str
    vcpus: int
    memory_mb: int
    root_gb: int
    ephemeral_gb: int = 0
    swap_mb: int = 0
    extra_specs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> FlavorSpec:
        """From the `instances.flavor` JSON copy."""
        return cls(
            flavorid=str(d["flavorid"]),
            name=d["name"],
            vcpus=int(d["vcpus"]),
            memory_mb=int(d["memory_mb"]),
            root_gb=int(d.get("root_gb", 0)),
            ephemeral_gb=int(d.get("ephemeral_gb", 0)),
            swap_mb=int(d.get("swap", 0)),
            extra_specs=dict(d.get("extra_specs") or {}),
        )


@dataclass(frozen=True)
class ImageMeta:
    id: str | None
    name: str | None = None
    disk_format: str | None = None
    container_format: str | None = None
    size: int | None = None
    min_disk: int = 0
    min_ram: int = 0
    properties: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> ImageMeta:
        return cls(
            id=d.get("id"),
            name=d.get("name"),
            disk_format=d.get("disk_format"),
            container_format=d.get("container_format"),
            size=d.get("size"),
            min_disk=int(d.get("min_disk") or 0),
            min_ram=int(d.get("min_ram") or 0),
            properties={k: str(v) for k, v in (d.get("properties") or {}).items()},
        )


@dataclass(frozen=True)
class InstanceSpec:
    """Who the guest is: identity, owner, flavor and image (for `<metadata>`, sysinfo,
    sizing). `name` is the domain name (sbx-<cloud>-0000000a), `uuid` the domain uuid."""

    uuid: str
    name: str
    display_name: str
    project_id: str
    user_id: str
    flavor: FlavorSpec
    image: ImageMeta
    created_at: dt.datetime
    project_name: str = ""
    user_name: str = ""
    # The claim's placement (virt/numa.py shape): guest cells, pinned host CPUs, page
    # size, PCI devices. {} for plain guests.
    numa_topology: dict = field(default_factory=dict)
    # The cloud the guest belongs to, written into its metadata (virt/ownership.py).
    cloud_id: str | None = None


@dataclass(frozen=True)
class DiskInfo:
    """One guest disk: `target` (vda, vdb, hdd...), its file, format, bus, device."""

    target: str
    path: Path
    format: str = "qcow2"  # qcow2 | raw
    bus: str = "virtio"  # virtio | ide | sata | scsi
    device: str = "disk"  # disk | cdrom
    readonly: bool = False
    serial: str | None = None
    boot_order: int | None = None  # set on one disk: the guest boots it (stable rescue)


@dataclass(frozen=True)
class InterfaceInfo:
    """One NIC (filled by the networking issue): MAC, the host bridge or tap, model."""

    mac: str
    bridge: str | None = None
    tap: str | None = None
    model: str = "virtio"
    mtu: int | None = None


@dataclass(frozen=True)
class BootInfo:
    """Where everything the guest needs lives on the host."""

    instance_dir: Path
    disks: tuple[DiskInfo, ...]
    console_log: Path
    kernel: Path | None = None
    ramdisk: Path | None = None
    cmdline: str | None = None
    interfaces: tuple[InterfaceInfo, ...] = ()


@dataclass(frozen=True)
class GuestState:
    uuid: str
    name: str
    power_state: int  # stackbox.compute.states power_state numbers
    state_name: str  # libvirt's name: running, paused, shut off...


@dataclass(frozen=True)
class HostResources:
    """What a host offers, as the compute node reports it."""

    hostname: str
    vcpus: int
    memory_mb: int
    local_gb: int
    free_disk_gb: int
    hypervisor_type: str  # "QEMU" (also under TCG) | "test"
    hypervisor_version: int  # libvirt's encoding: major*1_000_000 + minor*1000 + release
    arch: str  # x86_64
    cpu_info: dict = field(default_factory=dict)
    supported_instances: tuple[tuple[str, str, str], ...] = ()
    numa_topology: dict = field(default_factory=dict)  # virt/numa.py parse_capabilities
    # PCI node devices (compute/pci.py parse_node_device); the whitelist is applied later
    pci_devices: list[dict] = field(default_factory=list)


@runtime_checkable
class GuestLifecycle(Protocol):
    """Create, run and remove guests."""

    def spawn(self, spec: InstanceSpec, boot: BootInfo) -> None:
        """Define the guest and start it; the guest runs when this returns."""

    def destroy(self, uuid: str) -> None:
        """Stop the guest if running and undefine it; no error if it does not exist."""

    def reboot(self, uuid: str, hard: bool) -> None:
        """Soft: ask the guest (ACPI) and fall back to hard after a timeout. Hard: reset
        power (destroy + start of the same definition)."""

    def power_off(self, uuid: str, timeout: float) -> None:
        """Clean shutdown, waiting up to `timeout` seconds, then force off."""

    def power_on(self, uuid: str) -> None: ...


@runtime_checkable
class GuestControl(Protocol):
    """Freeze and thaw a running guest."""

    def pause(self, uuid: str) -> None: ...
    def unpause(self, uuid: str) -> None: ...
    def suspend(self, uuid: str) -> None:
        """Save the guest's memory to disk and stop it (libvirt managed save)."""

    def resume(self, uuid: str) -> None: ...


@runtime_checkable
class GuestInfo(Protocol):
    """What the hypervisor knows."""

    def state(self, uuid: str) -> GuestState:
        """Raises GuestNotFound."""

    def list_guests(self) -> list[GuestState]: ...

    def domain_xml(self, uuid: str) -> str: ...

    def host_resources(self) -> HostResources: ...

    def diagnostics(self, uuid: str) -> dict:
        """Activity counters of a guest: state, uptime, memory stats, per-vCPU times,
        per-disk block and per-NIC interface counters (`stackbox/virt/diagnostics.py`
        has the shape). Raises GuestNotFound."""


@runtime_checkable
class GuestRescue(Protocol):
    """Boot a guest from a rescue disk and back (Nova's rescue/unrescue). The guest's
    own definition is kept in `<instance_dir>/unrescue.xml` while it is rescued."""

    def rescue(self, spec: InstanceSpec, boot: BootInfo) -> None:
        """Save the guest's definition (once: a saved one is the original), force it
        off, redefine it from `boot` (rescue disk first) and start it."""

    def unrescue(self, uuid: str, instance_dir: Path, *, start: bool = True) -> bool:
        """Force the guest off, redefine it from the saved definition, start it (unless
        `start` is False: repairs), forget the saved file. False when none was saved."""


class Ownership(Protocol):
    """Which guests are this cloud's (`stackbox/virt/ownership.py`): the driver acts on
    no other."""

    cloud_id: str | None  # set by the compute manager once the conductor told it

    def adopt(self, uuid: str) -> bool:
        """Mark an instance's guest made before clouds had ids as this cloud's."""


class VirtDriver(GuestLifecycle, GuestControl, GuestInfo, GuestRescue, Ownership, Protocol):
    """A hypervisor driver is all five; `stackbox.virt.libvirt_driver.LibvirtDriver`
    is the one real implementation (with `qemu:///system` or libvirt's own
    `test:///default`)."""
