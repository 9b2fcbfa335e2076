"""The `<devices>` children of the libvirt domain XML object model (see `config.py`), plus
the small ElementTree helpers both modules use.

Same rules as `config.py`: typed dataclasses that render (`to_xml`) and parse (`from_xml`)
themselves; no I/O, no decisions (those are in `designer.py`); unmodelled children such
as `<address>` and `<alias>` are ignored when parsing.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import ClassVar, Self

# -- helpers -------------------------------------------------------------------------------


def element(tag: str, txt: str | None = None, **attrs: str | None) -> ET.Element:
    """`<tag attrs>txt</tag>`; attributes whose value is None are left out."""
    el = ET.Element(tag, {k: v for k, v in attrs.items() if v is not None})
    if txt is not None:
        el.text = txt
    return el


def sub(parent: ET.Element, tag: str, txt: str | None = None, **attrs: str | None) -> ET.Element:
    """Append `<tag attrs>txt</tag>` to parent; attributes whose value is None are left out."""
    el = ET.SubElement(parent, tag, {k: v for k, v in attrs.items() if v is not None})
    if txt is not None:
        el.text = txt
    return el


def text(el: ET.Element, path: str) -> str | None:
    """The text of the child at `path` ("" for an empty element), None when absent."""
    child = el.find(path)
    return None if child is None else (child.text or "")


def text_int(el: ET.Element, path: str) -> int | None:
    value = text(el, path)
    return int(value) if value else None


def attr_int(el: ET.Element | None, name: str) -> int | None:
    value = None if el is None else el.get(name)
    return int(value) if value is not None else None


def attr_yes(el: ET.Element | None, name: str) -> bool | None:
    """libvirt's yes/no (and on/off) attributes as bool; None when absent."""
    value = None if el is None else el.get(name)
    return None if value is None else value in ("yes", "on")


def bool_attr(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def str_or_none(value: int | None) -> str | None:
    return None if value is None else str(value)


def _attr(el: ET.Element | None, name: str) -> str | None:
    return None if el is None else el.get(name)


# -- devices -------------------------------------------------------------------------------


@dataclass
class Disk:
    """`<disk type=file|block device=disk|cdrom>` with driver, source, target."""

    type: str  # file | block
    device: str  # disk | cdrom
    target_dev: str  # vda, hdd...
    target_bus: str | None = None  # virtio | ide | sata | scsi
    source_file: str | None = None  # type=file
    source_dev: str | None = None  # type=block
    driver_name: str | None = None  # qemu
    driver_type: str | None = None  # qcow2 | raw
    driver_cache: str | None = None  # none | writeback | ...
    driver_discard: str | None = None  # unmap | ignore
    readonly: bool = False
    serial: str | None = None
    boot_order: int | None = None
    iotune: IOTune | None = None  # <iotune> limits (flavor quota:disk_*)

    def to_xml(self) -> ET.Element:
        el = ET.Element("disk", type=self.type, device=self.device)
        driver = {
            "name": self.driver_name,
            "type": self.driver_type,
            "cache": self.driver_cache,
            "discard": self.driver_discard,
        }
        if any(v is not None for v in driver.values()):
            sub(el, "driver", **driver)
        if self.source_file is not None or self.source_dev is not None:
            sub(el, "source", file=self.source_file, dev=self.source_dev)
        sub(el, "target", dev=self.target_dev, bus=self.target_bus)
        if self.readonly:
            sub(el, "readonly")
        if self.serial is not None:
            sub(el, "serial", self.serial)
        if self.boot_order is not None:
            sub(el, "boot", order=str(self.boot_order))
        if self.iotune is not None:
            el.append(self.iotune.to_xml())
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        driver = el.find("driver")
        source = el.find("source")
        target = el.find("target")
        return cls(
            type=el.get("type", "file"),
            device=el.get("device", "disk"),
            target_dev=_attr(target, "dev") or "",
            target_bus=_attr(target, "bus"),
            source_file=_attr(source, "file"),
            source_dev=_attr(source, "dev"),
            driver_name=_attr(driver, "name"),
            driver_type=_attr(driver, "type"),
            driver_cache=_attr(driver, "cache"),
            driver_discard=_attr(driver, "discard"),
            readonly=el.find("readonly") is not None,
            serial=text(el, "serial"),
            boot_order=attr_int(el.find("boot"), "order"),
            iotune=_opt_iotune(el.find("iotune")),
        )


@dataclass
class Interface:
    """`<interface type=bridge|ethernet|network>`: MAC, model, source, tap, MTU."""

    type: str  # bridge | ethernet | network
    mac: str | None = None
    model: str | None = None  # virtio | e1000 | rtl8139
    driver_name: str | None = None  # qemu | vhost
    source_bridge: str | None = None
    source_network: str | None = None
    target_dev: str | None = None
    mtu: int | None = None
    bandwidth: Bandwidth | None = None  # <bandwidth> QoS (flavor quota:vif_*)

    def to_xml(self) -> ET.Element:
        el = ET.Element("interface", type=self.type)
        if self.mac is not None:
            sub(el, "mac", address=self.mac)
        if self.source_bridge is not None or self.source_network is not None:
            sub(el, "source", bridge=self.source_bridge, network=self.source_network)
        if self.target_dev is not None:
            sub(el, "target", dev=self.target_dev)
        if self.model is not None:
            sub(el, "model", type=self.model)
        if self.driver_name is not None:
            sub(el, "driver", name=self.driver_name)
        if self.mtu is not None:
            sub(el, "mtu", size=str(self.mtu))
        if self.bandwidth is not None:
            el.append(self.bandwidth.to_xml())
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        source = el.find("source")
        return cls(
            type=el.get("type", ""),
            mac=_attr(el.find("mac"), "address"),
            model=_attr(el.find("model"), "type"),
            driver_name=_attr(el.find("driver"), "name"),
            source_bridge=_attr(source, "bridge"),
            source_network=_attr(source, "network"),
            target_dev=_attr(el.find("target"), "dev"),
            mtu=attr_int(el.find("mtu"), "size"),
            bandwidth=_opt_bandwidth(el.find("bandwidth")),
        )


@dataclass
class _CharDevice:
    """A character device: `type=file` (with `<source path>`) or `type=pty`."""

    TAG: ClassVar[str] = ""
    type: str  # file | pty
    source_path: str | None = None
    target_type: str | None = None  # isa-serial | serial | virtio
    target_port: int | None = None

    def to_xml(self) -> ET.Element:
        el = ET.Element(self.TAG, type=self.type)
        if self.source_path is not None:
            sub(el, "source", path=self.source_path)
        if self.target_type is not None or self.target_port is not None:
            sub(el, "target", type=self.target_type, port=str_or_none(self.target_port))
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        target = el.find("target")
        return cls(
            type=el.get("type", ""),
            # libvirt reports the pty it allocated as <source path=/dev/pts/N> on live
            # domains; that is state, not configuration, so only file sources are kept.
            source_path=_attr(el.find("source"), "path") if el.get("type") == "file" else None,
            target_type=_attr(target, "type"),
            target_port=attr_int(target, "port"),
        )


@dataclass
class Serial(_CharDevice):
    TAG: ClassVar[str] = "serial"


@dataclass
class Console(_CharDevice):
    TAG: ClassVar[str] = "console"


@dataclass
class Input:
    """`<input type=tablet|mouse|keyboard bus=usb|ps2|virtio>`."""

    type: str
    bus: str | None = None

    def to_xml(self) -> ET.Element:
        return element("input", type=self.type, bus=self.bus)

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        return cls(el.get("type", ""), el.get("bus"))


@dataclass
class Graphics:
    """`<graphics type=vnc autoport=yes listen=... keymap=...>`."""

    type: str  # vnc | spice
    autoport: bool | None = None
    port: int | None = None
    listen: str | None = None
    keymap: str | None = None

    def to_xml(self) -> ET.Element:
        return element(
            "graphics",
            type=self.type,
            port=str_or_none(self.port),
            autoport=bool_attr(self.autoport),
            listen=self.listen,
            keymap=self.keymap,
        )

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        autoport = attr_yes(el, "autoport")
        # a live domain reports the port autoport picked; only a fixed port is configuration
        port = None if autoport else attr_int(el, "port")
        return cls(el.get("type", ""), autoport, port, el.get("listen"), el.get("keymap"))


@dataclass
class Video:
    """`<video><model type=virtio|cirrus|vga|qxl/></video>`."""

    model: str
    vram: int | None = None
    heads: int | None = None

    def to_xml(self) -> ET.Element:
        el = ET.Element("video")
        sub(
            el, "model", type=self.model, vram=str_or_none(self.vram), heads=str_or_none(self.heads)
        )
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        model = el.find("model")
        return cls(
            model=_attr(model, "type") or "",
            vram=attr_int(model, "vram"),
            heads=attr_int(model, "heads"),
        )


@dataclass
class MemBalloon:
    """`<memballoon model=virtio|none>` with `<stats period=N/>`."""

    model: str
    stats_period: int | None = None

    def to_xml(self) -> ET.Element:
        el = ET.Element("memballoon", model=self.model)
        if self.stats_period is not None:
            sub(el, "stats", period=str(self.stats_period))
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        return cls(el.get("model", ""), attr_int(el.find("stats"), "period"))


@dataclass
class Controller:
    """`<controller type=usb|pci|ide|scsi|virtio-serial index=N model=...>`."""

    type: str
    index: int | None = None
    model: str | None = None

    def to_xml(self) -> ET.Element:
        return element(
            "controller", type=self.type, index=str_or_none(self.index), model=self.model
        )

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        return cls(el.get("type", ""), attr_int(el, "index"), el.get("model"))


# -- hardware tuning (flavor extra specs / image properties; see virt/hardware.py) --------

IOTUNE_FIELDS = (
    "total_bytes_sec",
    "read_bytes_sec",
    "write_bytes_sec",
    "total_iops_sec",
    "read_iops_sec",
    "write_iops_sec",
)


@dataclass
class IOTune:
    """`<iotune>` inside `<disk>`: byte and IOPS limits (children in libvirt's order)."""

    total_bytes_sec: int | None = None
    read_bytes_sec: int | None = None
    write_bytes_sec: int | None = None
    total_iops_sec: int | None = None
    read_iops_sec: int | None = None
    write_iops_sec: int | None = None

    def to_xml(self) -> ET.Element:
        el = ET.Element("iotune")
        for name in IOTUNE_FIELDS:
            if getattr(self, name) is not None:
                sub(el, name, str(getattr(self, name)))
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        return cls(**{name: text_int(el, name) for name in IOTUNE_FIELDS})


def _opt_iotune(el: ET.Element | None) -> IOTune | None:
    return IOTune.from_xml(el) if el is not None else None


@dataclass
class BandwidthRate:
    """`<inbound>`/`<outbound>`: average and peak in KiB/s, burst in KiB."""

    average: int
    peak: int | None = None
    burst: int | None = None

    def to_xml(self, tag: str) -> ET.Element:
        return element(
            tag,
            average=str(self.average),
            peak=str_or_none(self.peak),
            burst=str_or_none(self.burst),
        )

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        return cls(attr_int(el, "average") or 0, attr_int(el, "peak"), attr_int(el, "burst"))


@dataclass
class Bandwidth:
    """`<bandwidth>` inside `<interface>`: at most one inbound and one outbound rate."""

    inbound: BandwidthRate | None = None
    outbound: BandwidthRate | None = None

    def to_xml(self) -> ET.Element:
        el = ET.Element("bandwidth")
        for tag in ("inbound", "outbound"):
            rate = getattr(self, tag)
            if rate is not None:
                el.append(rate.to_xml(tag))
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        rates = {t: el.find(t) for t in ("inbound", "outbound")}
        return cls(**{t: BandwidthRate.from_xml(r) for t, r in rates.items() if r is not None})


def _opt_bandwidth(el: ET.Element | None) -> Bandwidth | None:
    return Bandwidth.from_xml(el) if el is not None else None


@dataclass
class Watchdog:
    """`<watchdog model=i6300esb action=reset|poweroff|pause|none|...>`."""

    model: str = "i6300esb"
    action: str | None = None

    def to_xml(self) -> ET.Element:
        return element("watchdog", model=self.model, action=self.action)

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        return cls(el.get("model", ""), el.get("action"))


@dataclass
class RNG:
    """`<rng model=virtio>` with an optional `<rate bytes period(ms)>` and a random
    backend (a host device such as /dev/urandom)."""

    model: str = "virtio"
    backend_model: str = "random"
    backend: str | None = "/dev/urandom"
    rate_bytes: int | None = None
    rate_period: int | None = None

    def to_xml(self) -> ET.Element:
        el = ET.Element("rng", model=self.model)
        if self.rate_bytes is not None:
            sub(el, "rate", bytes=str(self.rate_bytes), period=str_or_none(self.rate_period))
        sub(el, "backend", self.backend, model=self.backend_model)
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        rate = el.find("rate")
        backend = el.find("backend")
        return cls(
            model=el.get("model", ""),
            backend_model=_attr(backend, "model") or "random",
            backend=(backend.text or None) if backend is not None else None,
            rate_bytes=attr_int(rate, "bytes"),
            rate_period=attr_int(rate, "period"),
        )
