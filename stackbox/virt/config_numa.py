"""Domain XML elements for placement: `<vcpupin>` / `<emulatorpin>` (inside
`<cputune>`), `<numatune>` with `<memory>` and `<memnode>`, the guest's `<cpu><numa><cell>`,
`<memoryBacking><hugepages><page>` and PCI `<hostdev>`.

Same rules as config.py (re-exported there): pure dataclasses that render themselves and
parse themselves back; what goes in them is decided in designer_numa.py.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Self

from stackbox.virt.config_devices import attr_int, element, sub


@dataclass
class VCPUPin:
    """`<vcpupin vcpu='0' cpuset='4'/>`."""

    vcpu: int
    cpuset: str

    def to_xml(self) -> ET.Element:
        return element("vcpupin", vcpu=str(self.vcpu), cpuset=self.cpuset)

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        return cls(attr_int(el, "vcpu") or 0, el.get("cpuset", ""))


@dataclass
class MemNode:
    """`<memnode cellid='0' mode='strict' nodeset='1'/>`: guest cell → host node."""

    cellid: int
    mode: str
    nodeset: str

    def to_xml(self) -> ET.Element:
        return element("memnode", cellid=str(self.cellid), mode=self.mode, nodeset=self.nodeset)

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        return cls(attr_int(el, "cellid") or 0, el.get("mode", "strict"), el.get("nodeset", ""))


@dataclass
class NUMATune:
    """`<numatune><memory mode nodeset/><memnode .../></numatune>`."""

    mode: str = "strict"
    nodeset: str = ""
    memnodes: list[MemNode] = field(default_factory=list)

    def to_xml(self) -> ET.Element:
        el = ET.Element("numatune")
        el.append(element("memory", mode=self.mode, nodeset=self.nodeset))
        el.extend(m.to_xml() for m in self.memnodes)
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        mem = el.find("memory")
        return cls(
            mode=mem.get("mode", "strict") if mem is not None else "strict",
            nodeset=mem.get("nodeset", "") if mem is not None else "",
            memnodes=[MemNode.from_xml(m) for m in el.findall("memnode")],
        )


@dataclass
class NUMACell:
    """A guest cell, `<cell id='0' cpus='0-1' memory='1048576' unit='KiB'/>` in
    `<cpu><numa>`; `memory` in KiB."""

    id: int
    cpus: str
    memory: int
    mem_access: str | None = None  # shared (vhost-user) | private

    def to_xml(self) -> ET.Element:
        return element(
            "cell",
            id=str(self.id),
            cpus=self.cpus,
            memory=str(self.memory),
            unit="KiB",
            memAccess=self.mem_access,
        )

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        unit = el.get("unit", "KiB").lower()
        factor = {"mib": 1024, "m": 1024, "gib": 1024 * 1024, "g": 1024 * 1024}.get(unit, 1)
        return cls(
            attr_int(el, "id") or 0,
            el.get("cpus", ""),
            (attr_int(el, "memory") or 0) * factor,
            el.get("memAccess"),
        )


@dataclass
class HugePage:
    """`<page size='2048' unit='KiB' nodeset='0'/>`."""

    size_kb: int
    nodeset: str | None = None

    def to_xml(self) -> ET.Element:
        return element("page", size=str(self.size_kb), unit="KiB", nodeset=self.nodeset)

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        size = attr_int(el, "size") or 0
        unit = el.get("unit", "KiB").lower()
        size *= {"mib": 1024, "m": 1024, "gib": 1024 * 1024, "g": 1024 * 1024}.get(unit, 1)
        return cls(size, el.get("nodeset"))


@dataclass
class MemoryBacking:
    """`<memoryBacking><hugepages>...</hugepages></memoryBacking>`."""

    hugepages: list[HugePage] = field(default_factory=list)

    def to_xml(self) -> ET.Element:
        el = ET.Element("memoryBacking")
        if self.hugepages:
            sub(el, "hugepages").extend(p.to_xml() for p in self.hugepages)
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        return cls([HugePage.from_xml(p) for p in el.findall("hugepages/page")])


@dataclass
class HostDevPCI:
    """`<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain bus
    slot function/></source></hostdev>`; `address` is "0000:04:10.0"."""

    address: str
    managed: bool = True

    def to_xml(self) -> ET.Element:
        el = element(
            "hostdev", mode="subsystem", type="pci", managed="yes" if self.managed else "no"
        )
        dom, bus, rest = self.address.split(":")
        slot, fn = rest.split(".")
        sub(el, "source").append(
            element(
                "address", domain=f"0x{dom}", bus=f"0x{bus}", slot=f"0x{slot}", function=f"0x{fn}"
            )
        )
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        addr = el.find("source/address")

        def num(name: str) -> int:
            return int(addr.get(name, "0"), 0) if addr is not None else 0

        text = f"{num('domain'):04x}:{num('bus'):02x}:{num('slot'):02x}.{num('function'):x}"
        return cls(text, el.get("managed", "no") == "yes")
