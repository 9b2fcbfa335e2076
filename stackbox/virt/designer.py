"""The decisions that turn an instance into a libvirt guest: plain, pure functions from
`InstanceSpec` + `BootInfo` + `GuestHostConfig` to `config.Domain` (no I/O, no libvirt).

Which bus, which cache mode, which video model, which CPU mode -- every such choice lives
here and is documented where it is made; `config.py` only knows how XML looks and the driver
only talks to libvirt. The output follows the shape Nova gives its guests (seed 004): our
`<stackbox:instance>` metadata, SMBIOS sysinfo naming stackbox, ACPI/APIC, UTC clock, one
socket per vCPU, a file serial for the console log, VNC, a virtio memory balloon.
"""

from __future__ import annotations

from dataclasses import dataclass

from stackbox import __version__
from stackbox.virt import config, designer_numa, hardware
from stackbox.virt.driver import BootInfo, DiskInfo, InstanceSpec, InterfaceInfo, VirtError

# Direct kernel boot without an explicit command line: root on the first virtio disk, the
# kernel console on the VGA screen and on ttyS0, which is the console log file.
DEFAULT_CMDLINE = "root=/dev/vda console=tty0 console=ttyS0"
SMBIOS_MANUFACTURER = "stackbox"
SMBIOS_PRODUCT = "stackbox compute"
SMBIOS_FAMILY = "Virtual Machine"
# virtio-vga: QEMU 7.2 (Debian 12) has it for the `pc` machine and it works as a plain VGA
# for guests without a virtio-gpu driver. Cirrus is deprecated upstream and needs its own
# guest driver for anything above 1024x768.
VIDEO_MODEL = "virtio"
# cache=none: the host page cache is bypassed (O_DIRECT), so a host crash cannot lose
# writes the guest believes are on disk, and guest RAM is not cached twice. Nova's default
# for file disks on filesystems supporting O_DIRECT.
DISK_CACHE = "none"


@dataclass(frozen=True)
class GuestHostConfig:
    """What the compute host tells the designer about itself (from the [compute] config
    and the libvirt connection).

    `cpu_mode` None picks the default: `host-model` on KVM, like Nova. Under TCG
    (virt_type "qemu") we deliberately differ from Nova, which also asks for host-model
    there: host-model makes TCG emulate the host's named CPU model flag by flag (EPYC,
    Skylake...), which TCG only partly implements (QEMU drops what it cannot emulate and
    warns) and which buys no speed under emulation; instead we leave the model to QEMU
    (its `qemu64` default, Nova's cpu_mode=none) and only set the topology. The libvirt test
    driver ("test") gets no `<cpu>` mode either.
    """

    virt_type: str  # kvm | qemu | test
    arch: str = "x86_64"
    machine: str = "pc"
    vnc_listen: str = "127.0.0.1"
    mem_stats_period: int = 10  # seconds; 0 = no balloon statistics
    cpu_mode: str | None = None  # host-model | host-passthrough | custom | none
    cpu_model: str | None = None  # for cpu_mode "custom", e.g. "qemu64"
    package_version: str = __version__
    hostname: str = ""  # names the host in errors (e.g. missing UEFI firmware)
    uefi_loader: str | None = None  # OVMF code file (hardware.find_ovmf), None: not installed
    uefi_vars: str | None = None  # OVMF vars template; None/"": the loader has no vars file


def build_domain(spec: InstanceSpec, boot: BootInfo, host: GuestHostConfig) -> config.Domain:
    """The complete guest definition for `spec`, booting from what `boot` describes."""
    domain = config.Domain(
        type=host.virt_type,
        name=spec.name,
        uuid=spec.uuid,
        memory=spec.flavor.memory_mb * 1024,
        vcpu=spec.flavor.vcpus,
        metadata=metadata(spec, host),
        sysinfo=sysinfo(spec, host),
        os=os_config(boot, host),
        features=config.Features(acpi=True, apic=True),
        clock=config.Clock(offset="utc"),
        cpu=cpu_config(spec, host),
        on_poweroff="destroy",
        on_reboot="restart",
        on_crash="destroy",
        devices=devices(boot, host),
    )
    domain = designer_numa.apply_placement(domain, spec.numa_topology)
    return apply_hardware(domain, spec, boot, host)


def metadata(spec: InstanceSpec, host: GuestHostConfig) -> config.NovaLikeMetadata:
    """Who the guest is, readable from the domain alone (`virsh dumpxml`)."""
    f = spec.flavor
    return config.NovaLikeMetadata(
        package_version=host.package_version,
        name=spec.display_name,
        creation_time=spec.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        flavor=config.MetaFlavor(
            name=f.name,
            memory=f.memory_mb,
            disk=f.root_gb,
            swap=f.swap_mb,
            ephemeral=f.ephemeral_gb,
            vcpus=f.vcpus,
        ),
        owner=config.MetaOwner(
            user_uuid=spec.user_id,
            user_name=spec.user_name,
            project_uuid=spec.project_id,
            project_name=spec.project_name,
        ),
        root_type="image" if spec.image.id else None,
        root_uuid=spec.image.id or None,
        cloud_id=spec.cloud_id,  # the mark of ownership: virt/ownership.py
        instance_uuid=spec.uuid,
    )


def sysinfo(spec: InstanceSpec, host: GuestHostConfig) -> config.SysInfo:
    """SMBIOS system entries the guest sees in dmidecode (cloud-init reads the serial)."""
    return config.SysInfo(
        system={
            "manufacturer": SMBIOS_MANUFACTURER,
            "product": SMBIOS_PRODUCT,
            "version": host.package_version,
            "serial": spec.uuid,
            "uuid": spec.uuid,
            "family": SMBIOS_FAMILY,
        }
    )


def os_config(boot: BootInfo, host: GuestHostConfig) -> config.OS:
    """hvm guest; direct kernel boot when the image has a kernel, else the first disk
    (or the disk that has a boot order).
    The test driver takes the same `<os>` as QEMU (it keeps arch and machine as given)."""
    os = config.OS(type="hvm", arch=host.arch, machine=host.machine, smbios_mode="sysinfo")
    if boot.kernel is not None:
        os.kernel = str(boot.kernel)
        os.initrd = str(boot.ramdisk) if boot.ramdisk is not None else None
        os.cmdline = boot.cmdline or DEFAULT_CMDLINE
    elif not any(d.boot_order is not None for d in boot.disks):
        # a disk with its own boot order (stable rescue) excludes <boot dev>: libvirt
        # refuses both in one domain
        os.boot_devs = ["hd"]
    return os


def cpu_config(spec: InstanceSpec, host: GuestHostConfig) -> config.CPU:
    """One socket per vCPU (single-core sockets; guests license and schedule fine with
    that, as Nova's default topology), with the CPU mode chosen as in GuestHostConfig."""
    mode = host.cpu_mode
    if mode is None:
        mode = "host-model" if host.virt_type == "kvm" else "none"
    topology = config.CPUTopology(sockets=spec.flavor.vcpus, cores=1, threads=1)
    if mode == "none" or host.virt_type == "test":
        return config.CPU(topology=topology)
    if mode == "custom":
        return config.CPU(
            mode="custom", match="exact", model=host.cpu_model or "qemu64", topology=topology
        )
    return config.CPU(mode=mode, topology=topology)


def disk_config(disk: DiskInfo) -> config.Disk:
    """A disk backed by a host file (or a block device under /dev); cdroms are read-only."""
    path = str(disk.path)
    is_block = path.startswith("/dev/")
    return config.Disk(
        type="block" if is_block else "file",
        device=disk.device,
        source_dev=path if is_block else None,
        source_file=None if is_block else path,
        target_dev=disk.target,
        target_bus=disk.bus,
        driver_name="qemu",
        driver_type=disk.format,
        driver_cache=DISK_CACHE,
        readonly=disk.readonly or disk.device == "cdrom",
        serial=disk.serial,
        boot_order=disk.boot_order,
    )


def interface_config(nic: InterfaceInfo) -> config.Interface:
    """A NIC on a host bridge (libvirt makes the tap) or on a tap we created (ethernet)."""
    return config.Interface(
        type="bridge" if nic.bridge else "ethernet",
        mac=nic.mac,
        model=nic.model,
        source_bridge=nic.bridge or None,
        target_dev=nic.tap,
        mtu=nic.mtu,
    )


def devices(boot: BootInfo, host: GuestHostConfig) -> config.Devices:
    """Disks, NICs, the console log (ttyS0 → file, what `console log show` reads), an
    interactive pty serial (ttyS1, `virsh console DOMAIN serial1`), a `<console>` (libvirt
    makes the first console the alias of serial 0, so it reports type file), a USB tablet
    (absolute pointer, so the VNC cursor follows), VNC without a keymap (QEMU's en-us
    default; libvirt advises against keymaps), video, and the memory balloon whose stats
    period lets `virsh dommemstat` report guest memory use."""
    period = host.mem_stats_period if host.mem_stats_period > 0 else None
    return config.Devices(
        disks=[disk_config(d) for d in boot.disks],
        interfaces=[interface_config(n) for n in boot.interfaces],
        serials=[
            config.Serial(type="file", source_path=str(boot.console_log)),
            config.Serial(type="pty"),
        ],
        consoles=[config.Console(type="pty")],
        inputs=[config.Input(type="tablet", bus="usb")],
        graphics=[config.Graphics(type="vnc", autoport=True, listen=host.vnc_listen)],
        videos=[config.Video(model=VIDEO_MODEL)],
        memballoon=config.MemBalloon(model="virtio", stats_period=period),
    )


# -- flavor extra specs and image properties (hardware.py decides, this renders) ----------


def apply_hardware(
    domain: config.Domain, spec: InstanceSpec, boot: BootInfo, host: GuestHostConfig
) -> config.Domain:
    """Shape `domain` as the flavor's extra specs and the image's properties ask (CPU
    topology, cputune, iotune per disk, bandwidth per NIC, watchdog, RNG, UEFI). The API
    validated them at create/resize/rebuild; a HardwareError here (specs changed since)
    or a missing firmware becomes a VirtError, i.e. the instance fault."""
    try:
        hw = hardware.guest_hardware(
            spec.flavor.vcpus, spec.flavor.extra_specs, spec.image.properties
        )
    except hardware.HardwareError as exc:
        raise VirtError(str(exc)) from exc
    t = hw.topology
    if domain.cpu is not None:
        domain.cpu.topology = config.CPUTopology(t.sockets, t.cores, t.threads)
    if hw.cputune is not None:
        c = hw.cputune
        tune = domain.cputune or config.CPUTune()  # keeps what the pinning helper set
        tune.shares, tune.period, tune.quota = c.shares, c.period, c.quota
        domain.cputune = tune
    if hw.disk_tune:
        for disk in domain.devices.disks:
            disk.iotune = config.IOTune(**hw.disk_tune)
    if hw.vif_tune:
        for nic in domain.devices.interfaces:
            nic.bandwidth = bandwidth_config(hw.vif_tune)
    if hw.watchdog_action is not None:
        domain.devices.watchdog = config.Watchdog(model="i6300esb", action=hw.watchdog_action)
    if hw.rng is not None:
        r = hw.rng
        domain.devices.rngs.append(
            config.RNG(
                model=r.model, backend=r.backend, rate_bytes=r.rate_bytes, rate_period=r.rate_period
            )
        )
    if hw.firmware == "uefi":
        uefi_config(domain.os, boot, host)
    return domain


def bandwidth_config(tune: dict[str, int]) -> config.Bandwidth:
    """quota:vif_{inbound,outbound}_{average,peak,burst} → `<bandwidth>` (KiB/s, KiB)."""

    def rate(way: str) -> config.BandwidthRate | None:
        if f"{way}_average" not in tune:
            return None
        return config.BandwidthRate(
            tune[f"{way}_average"], tune.get(f"{way}_peak"), tune.get(f"{way}_burst")
        )

    return config.Bandwidth(inbound=rate("inbound"), outbound=rate("outbound"))


def uefi_config(os: config.OS, boot: BootInfo, host: GuestHostConfig) -> None:
    """OVMF as a read-only pflash loader, with the guest's own UEFI variable store in its
    instance dir (libvirt copies the vars template there on first boot). No OVMF on this
    host: the boot fails with a fault that says so."""
    if not host.uefi_loader:
        where = f" on host {host.hostname}" if host.hostname else " on this host"
        raise VirtError(
            f"UEFI firmware (OVMF) is not installed{where}; the image asks for "
            "hw_firmware_type=uefi (install the ovmf package)"
        )
    os.loader, os.loader_readonly, os.loader_type = host.uefi_loader, True, "pflash"
    if host.uefi_vars:
        os.nvram = str(boot.instance_dir / "nvram.fd")
        os.nvram_template = host.uefi_vars
