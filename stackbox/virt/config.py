"""The libvirt domain XML as a pure object model: one small typed dataclass per element.

Every class renders itself (`to_xml() -> Element`) and parses itself back
(`from_xml(el)`); `Domain.to_xml_string()` / `Domain.from_xml_string()` are the string ends.
Field defaults only mirror libvirt's own ("attribute absent" = None, "no devices" = []);
they never decide anything. What goes into a guest (which bus, which cache mode, which
video model) is decided in `designer.py`; talking to libvirt is the driver's job. No I/O here.

Parsing keeps what we model and ignores the rest (`<address>`, `<alias>`, unknown devices),
so the XML libvirt hands back (`virDomainGetXMLDesc`) parses into objects that keep every
value we set (libvirt only adds its defaults). The `<devices>` children live in
`config_devices.py`, our `<metadata>` block in `config_metadata.py`; all are re-exported here,
so callers only import `stackbox.virt.config`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Self

from stackbox.virt.config_devices import (
    RNG,
    Bandwidth,
    BandwidthRate,
    Console,
    Controller,
    Disk,
    Graphics,
    Input,
    Interface,
    IOTune,
    MemBalloon,
    Serial,
    Video,
    Watchdog,
    attr_int,
    attr_yes,
    bool_attr,
    element,
    sub,
    text,
    text_int,
)
from stackbox.virt.config_metadata import (
    NS_STACKBOX,
    MetaFlavor,
    MetaOwner,
    NovaLikeMetadata,
    qname,
)
from stackbox.virt.config_numa import (
    HostDevPCI,
    HugePage,
    MemNode,
    MemoryBacking,
    NUMACell,
    NUMATune,
    VCPUPin,
)

__all__ = [
    "CPU",
    "NS_STACKBOX",
    "OS",
    "RNG",
    "Bandwidth",
    "BandwidthRate",
    "CPUFeature",
    "CPUTopology",
    "CPUTune",
    "Clock",
    "Console",
    "Controller",
    "Devices",
    "Disk",
    "Domain",
    "Features",
    "Graphics",
    "HostDevPCI",
    "HugePage",
    "IOTune",
    "Input",
    "Interface",
    "MemBalloon",
    "MemNode",
    "MemoryBacking",
    "MetaFlavor",
    "MetaOwner",
    "NUMACell",
    "NUMATune",
    "NovaLikeMetadata",
    "Serial",
    "SysInfo",
    "Timer",
    "VCPUPin",
    "Video",
    "Watchdog",
]


@dataclass
class SysInfo:
    """`<sysinfo type="smbios">` with `<system>` entries (name → value, in order)."""

    system: dict[str, str] = field(default_factory=dict)
    type: str = "smbios"

    def to_xml(self) -> ET.Element:
        el = ET.Element("sysinfo", type=self.type)
        system = sub(el, "system")
        for name, value in self.system.items():
            sub(system, "entry", value, name=name)
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        entries = {e.get("name", ""): e.text or "" for e in el.findall("system/entry")}
        return cls(system=entries, type=el.get("type", "smbios"))


@dataclass
class OS:
    """`<os>`: guest type, firmware/boot order or direct kernel boot, SMBIOS source."""

    type: str = "hvm"
    arch: str | None = None
    machine: str | None = None
    boot_devs: list[str] = field(default_factory=list)  # hd, cdrom, network, fd
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    smbios_mode: str | None = None  # sysinfo | host | emulate
    loader: str | None = None  # UEFI firmware path
    loader_readonly: bool | None = None
    loader_type: str | None = None  # rom | pflash
    nvram: str | None = None
    nvram_template: str | None = None  # vars file libvirt copies to `nvram` on first boot

    def to_xml(self) -> ET.Element:
        el = ET.Element("os")
        sub(el, "type", self.type, arch=self.arch, machine=self.machine)
        if self.loader is not None:
            ro = bool_attr(self.loader_readonly)
            sub(el, "loader", self.loader, readonly=ro, type=self.loader_type)
        if self.nvram is not None:
            sub(el, "nvram", self.nvram, template=self.nvram_template)
        for name, value in (("kernel", self.kernel), ("initrd", self.initrd)):
            if value is not None:
                sub(el, name, value)
        if self.cmdline is not None:
            sub(el, "cmdline", self.cmdline)
        for dev in self.boot_devs:
            sub(el, "boot", dev=dev)
        if self.smbios_mode is not None:
            sub(el, "smbios", mode=self.smbios_mode)
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        typ = el.find("type")
        loader = el.find("loader")
        smbios = el.find("smbios")
        return cls(
            type=(typ.text or "hvm") if typ is not None else "hvm",
            arch=typ.get("arch") if typ is not None else None,
            machine=typ.get("machine") if typ is not None else None,
            boot_devs=[b.get("dev", "") for b in el.findall("boot")],
            kernel=text(el, "kernel"),
            initrd=text(el, "initrd"),
            cmdline=text(el, "cmdline"),
            smbios_mode=smbios.get("mode") if smbios is not None else None,
            loader=(loader.text or "") if loader is not None else None,
            loader_readonly=attr_yes(loader, "readonly") if loader is not None else None,
            loader_type=loader.get("type") if loader is not None else None,
            nvram=text(el, "nvram"),
            nvram_template=attr_str(el.find("nvram"), "template"),
        )


@dataclass
class Features:
    """`<features>`: the flag features we use (`<acpi/>`, `<apic/>`, `<pae/>`)."""

    acpi: bool = False
    apic: bool = False
    pae: bool = False

    def to_xml(self) -> ET.Element:
        el = ET.Element("features")
        for name in ("acpi", "apic", "pae"):
            if getattr(self, name):
                sub(el, name)
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        return cls(**{n: el.find(n) is not None for n in ("acpi", "apic", "pae")})


@dataclass
class Timer:
    """`<timer name=... tickpolicy=... present=...>` inside `<clock>`."""

    name: str
    tickpolicy: str | None = None
    present: bool | None = None

    def to_xml(self) -> ET.Element:
        present = bool_attr(self.present)
        return element("timer", name=self.name, tickpolicy=self.tickpolicy, present=present)

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        return cls(el.get("name", ""), el.get("tickpolicy"), attr_yes(el, "present"))


@dataclass
class Clock:
    """`<clock offset=...>` with its timers."""

    offset: str = "utc"
    timers: list[Timer] = field(default_factory=list)

    def to_xml(self) -> ET.Element:
        el = ET.Element("clock", offset=self.offset)
        el.extend(t.to_xml() for t in self.timers)
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        return cls(el.get("offset", "utc"), [Timer.from_xml(t) for t in el.findall("timer")])


@dataclass
class CPUTopology:
    sockets: int
    cores: int
    threads: int

    def to_xml(self) -> ET.Element:
        sockets, cores, threads = (str(n) for n in (self.sockets, self.cores, self.threads))
        return element("topology", sockets=sockets, cores=cores, threads=threads)

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        return cls(
            attr_int(el, "sockets") or 1, attr_int(el, "cores") or 1, attr_int(el, "threads") or 1
        )


@dataclass
class CPUFeature:
    name: str
    policy: str | None = None  # require | disable | ...

    def to_xml(self) -> ET.Element:
        return element("feature", policy=self.policy, name=self.name)

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        return cls(el.get("name", ""), el.get("policy"))


@dataclass
class CPU:
    """`<cpu mode=... match=...>`: model, topology, extra features."""

    mode: str | None = None  # host-model | host-passthrough | custom | maximum
    match: str | None = None  # exact | minimum | strict
    check: str | None = None  # none | partial | full
    model: str | None = None
    model_fallback: str | None = None  # allow | forbid
    topology: CPUTopology | None = None
    features: list[CPUFeature] = field(default_factory=list)
    numa_cells: list[NUMACell] = field(default_factory=list)  # guest cells, <numa>

    def to_xml(self) -> ET.Element:
        el = element("cpu", mode=self.mode, match=self.match, check=self.check)
        if self.model is not None:
            sub(el, "model", self.model, fallback=self.model_fallback)
        if self.topology is not None:
            el.append(self.topology.to_xml())
        el.extend(f.to_xml() for f in self.features)
        if self.numa_cells:
            sub(el, "numa").extend(c.to_xml() for c in self.numa_cells)
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        model = el.find("model")
        topo = el.find("topology")
        return cls(
            mode=el.get("mode"),
            match=el.get("match"),
            check=el.get("check"),
            model=(model.text or None) if model is not None else None,
            model_fallback=model.get("fallback") if model is not None else None,
            topology=CPUTopology.from_xml(topo) if topo is not None else None,
            features=[CPUFeature.from_xml(f) for f in el.findall("feature")],
            numa_cells=[NUMACell.from_xml(c) for c in el.findall("numa/cell")],
        )


@dataclass
class CPUTune:
    """`<cputune>`: CPU weight (`shares`) and bandwidth limit (`period`/`quota`, in
    microseconds), from the flavor's quota:cpu_* (see hardware.py)."""

    shares: int | None = None
    period: int | None = None
    quota: int | None = None
    vcpupins: list[VCPUPin] = field(default_factory=list)  # hw:cpu_policy=dedicated
    emulatorpin: str | None = None  # cpuset

    def to_xml(self) -> ET.Element:
        el = ET.Element("cputune")
        for name in ("shares", "period", "quota"):
            if getattr(self, name) is not None:
                sub(el, name, str(getattr(self, name)))
        el.extend(p.to_xml() for p in self.vcpupins)
        if self.emulatorpin is not None:
            sub(el, "emulatorpin", cpuset=self.emulatorpin)
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        return cls(
            shares=text_int(el, "shares"),
            period=text_int(el, "period"),
            quota=text_int(el, "quota"),
            vcpupins=[VCPUPin.from_xml(p) for p in el.findall("vcpupin")],
            emulatorpin=_attr_of(el.find("emulatorpin"), "cpuset"),
        )


@dataclass
class Devices:
    """`<devices>`, kept per kind; rendered in libvirt's canonical order."""

    emulator: str | None = None
    disks: list[Disk] = field(default_factory=list)
    controllers: list[Controller] = field(default_factory=list)
    interfaces: list[Interface] = field(default_factory=list)
    serials: list[Serial] = field(default_factory=list)
    consoles: list[Console] = field(default_factory=list)
    inputs: list[Input] = field(default_factory=list)
    graphics: list[Graphics] = field(default_factory=list)
    videos: list[Video] = field(default_factory=list)
    watchdog: Watchdog | None = None
    memballoon: MemBalloon | None = None
    rngs: list[RNG] = field(default_factory=list)
    hostdevs: list[HostDevPCI] = field(default_factory=list)

    def to_xml(self) -> ET.Element:
        el = ET.Element("devices")
        if self.emulator is not None:
            sub(el, "emulator", self.emulator)
        for group in (
            self.disks,
            self.controllers,
            self.interfaces,
            self.serials,
            self.consoles,
            self.inputs,
            self.graphics,
            self.videos,
        ):
            el.extend(d.to_xml() for d in group)
        if self.watchdog is not None:
            el.append(self.watchdog.to_xml())
        if self.memballoon is not None:
            el.append(self.memballoon.to_xml())
        el.extend(r.to_xml() for r in self.rngs)
        el.extend(h.to_xml() for h in self.hostdevs)
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        balloon = el.find("memballoon")
        watchdog = el.find("watchdog")
        return cls(
            emulator=text(el, "emulator"),
            disks=[Disk.from_xml(d) for d in el.findall("disk")],
            controllers=[Controller.from_xml(d) for d in el.findall("controller")],
            interfaces=[Interface.from_xml(d) for d in el.findall("interface")],
            serials=[Serial.from_xml(d) for d in el.findall("serial")],
            consoles=[Console.from_xml(d) for d in el.findall("console")],
            inputs=[Input.from_xml(d) for d in el.findall("input")],
            graphics=[Graphics.from_xml(d) for d in el.findall("graphics")],
            videos=[Video.from_xml(d) for d in el.findall("video")],
            memballoon=MemBalloon.from_xml(balloon) if balloon is not None else None,
            watchdog=Watchdog.from_xml(watchdog) if watchdog is not None else None,
            rngs=[RNG.from_xml(r) for r in el.findall("rng")],
            hostdevs=[HostDevPCI.from_xml(h) for h in el.findall("hostdev[@type='pci']")],
        )


_UNITS = {"b": 1, "bytes": 1, "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2}
_UNITS |= {"g": 1024**3, "gib": 1024**3, "kb": 1000, "mb": 1000**2, "gb": 1000**3}


def _kib(el: ET.Element | None) -> int | None:
    """A memory element's size in KiB, whatever its `unit` (libvirt's default: KiB)."""
    if el is None or el.text is None:
        return None
    factor = _UNITS.get(el.get("unit", "KiB").lower(), 1024)
    return int(el.text) * factor // 1024


@dataclass
class Domain:
    """`<domain>`: the whole guest definition. `memory`/`current_memory` are in KiB."""

    type: str  # kvm | qemu | test
    name: str
    uuid: str | None = None
    memory: int = 0
    current_memory: int | None = None
    vcpu: int = 1
    vcpu_cpuset: str | None = None
    cputune: CPUTune | None = None
    numatune: NUMATune | None = None
    memory_backing: MemoryBacking | None = None
    metadata: NovaLikeMetadata | None = None
    sysinfo: SysInfo | None = None
    os: OS = field(default_factory=OS)
    features: Features | None = None
    clock: Clock | None = None
    cpu: CPU | None = None
    on_poweroff: str | None = None  # destroy | restart | preserve | rename-restart
    on_reboot: str | None = None
    on_crash: str | None = None
    devices: Devices = field(default_factory=Devices)
    id: int | None = None  # live domains only (libvirt ignores it on define)

    def to_xml(self) -> ET.Element:
        el = ET.Element("domain", type=self.type)
        if self.id is not None:
            el.set("id", str(self.id))
        sub(el, "name", self.name)
        if self.uuid is not None:
            sub(el, "uuid", self.uuid)
        if self.metadata is not None:
            sub(el, "metadata").append(self.metadata.to_xml())
        sub(el, "memory", str(self.memory), unit="KiB")
        if self.current_memory is not None:
            sub(el, "currentMemory", str(self.current_memory), unit="KiB")
        sub(el, "vcpu", str(self.vcpu), cpuset=self.vcpu_cpuset)
        if self.cputune is not None:
            el.append(self.cputune.to_xml())
        for extra in (self.numatune, self.memory_backing):
            if extra is not None:
                el.append(extra.to_xml())
        if self.sysinfo is not None:
            el.append(self.sysinfo.to_xml())
        el.append(self.os.to_xml())
        for part in (self.features, self.cpu, self.clock):
            if part is not None:
                el.append(part.to_xml())
        for key in ("on_poweroff", "on_reboot", "on_crash"):
            if getattr(self, key) is not None:
                sub(el, key, getattr(self, key))
        el.append(self.devices.to_xml())
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        meta = el.find(f"metadata/{qname('instance')}")
        vcpu = el.find("vcpu")
        parts = {k: el.find(k) for k in ("sysinfo", "os", "features", "clock", "cpu", "devices")}
        return cls(
            type=el.get("type", ""),
            id=attr_int(el, "id"),
            name=text(el, "name") or "",
            uuid=text(el, "uuid"),
            memory=_kib(el.find("memory")) or 0,
            current_memory=_kib(el.find("currentMemory")),
            vcpu=text_int(el, "vcpu") or 1,
            vcpu_cpuset=vcpu.get("cpuset") if vcpu is not None else None,
            cputune=_opt(CPUTune, el.find("cputune")),
            numatune=_opt(NUMATune, el.find("numatune")),
            memory_backing=_opt(MemoryBacking, el.find("memoryBacking")),
            metadata=NovaLikeMetadata.from_xml(meta) if meta is not None else None,
            sysinfo=_opt(SysInfo, parts["sysinfo"]),
            os=OS.from_xml(parts["os"]) if parts["os"] is not None else OS(),
            features=_opt(Features, parts["features"]),
            clock=_opt(Clock, parts["clock"]),
            cpu=_opt(CPU, parts["cpu"]),
            on_poweroff=text(el, "on_poweroff"),
            on_reboot=text(el, "on_reboot"),
            on_crash=text(el, "on_crash"),
            devices=Devices.from_xml(parts["devices"])
            if parts["devices"] is not None
            else Devices(),
        )

    def to_xml_string(self) -> str:
        """The XML document, indented, as `defineXML` takes it."""
        el = self.to_xml()
        ET.indent(el)
        return ET.tostring(el, encoding="unicode")

    @classmethod
    def from_xml_string(cls, xml: str) -> Self:
        """Parse a domain document (e.g. `virDomainGetXMLDesc` output)."""
        el = ET.fromstring(xml)
        if el.tag != "domain":
            raise ValueError(f"not a domain document: <{el.tag}>")
        return cls.from_xml(el)


def attr_str(el: ET.Element | None, name: str) -> str | None:
    return None if el is None else el.get(name)


def _attr_of(el: ET.Element | None, name: str) -> str | None:
    return el.get(name) if el is not None else None


def _opt(kind: Any, el: ET.Element | None) -> Any:
    return kind.from_xml(el) if el is not None else None
