"""Our own block inside the domain's `<metadata>`: `<stackbox:instance>` in the
stackbox namespace, shaped like Nova's `<nova:instance>` (package version, display name,
creation time, flavor, owner, root disk source), plus the mark of ownership:
`<stackbox:cloud id=...>` (the cloud that made the guest) and `<stackbox:uuid>` (its
instance). Part of the `config.py` object model: pure dataclasses rendering and parsing
themselves, no I/O, no decisions (who owns what is decided in `virt/ownership.py`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Self

from stackbox.virt.config_devices import sub, text

NS_STACKBOX = "http://stackbox.dev/xmlns/libvirt/1.0"
ET.register_namespace("stackbox", NS_STACKBOX)


def qname(tag: str) -> str:
    return f"{{{NS_STACKBOX}}}{tag}"


@dataclass
class MetaFlavor:
    """`<stackbox:flavor name=...>`: sizes in MiB (memory, swap) and GiB (disk, ephemeral)."""

    name: str
    memory: int
    disk: int
    swap: int
    ephemeral: int
    vcpus: int

    def to_xml(self) -> ET.Element:
        el = ET.Element(qname("flavor"), name=self.name)
        for key in ("memory", "disk", "swap", "ephemeral", "vcpus"):
            sub(el, qname(key), str(getattr(self, key)))
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        vals = {k: int(text(el, qname(k)) or 0) for k in ("memory", "disk", "swap", "ephemeral")}
        return cls(name=el.get("name", ""), vcpus=int(text(el, qname("vcpus")) or 0), **vals)


@dataclass
class MetaOwner:
    """`<stackbox:owner>`: the user and project the guest belongs to."""

    user_uuid: str
    user_name: str
    project_uuid: str
    project_name: str

    def to_xml(self) -> ET.Element:
        el = ET.Element(qname("owner"))
        sub(el, qname("user"), self.user_name, uuid=self.user_uuid)
        sub(el, qname("project"), self.project_name, uuid=self.project_uuid)
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        user = el.find(qname("user"))
        project = el.find(qname("project"))
        return cls(
            user_uuid=user.get("uuid", "") if user is not None else "",
            user_name=(user.text or "") if user is not None else "",
            project_uuid=project.get("uuid", "") if project is not None else "",
            project_name=(project.text or "") if project is not None else "",
        )


@dataclass
class NovaLikeMetadata:
    """Our `<stackbox:instance>` block inside `<metadata>` (Nova's `<nova:instance>` shape)."""

    package_version: str
    name: str
    creation_time: str  # "YYYY-MM-DD HH:MM:SS"
    flavor: MetaFlavor | None = None
    owner: MetaOwner | None = None
    root_type: str | None = None  # "image" | "volume"
    root_uuid: str | None = None
    cloud_id: str | None = None  # the stackbox cloud owning the guest (None: unmarked)
    instance_uuid: str | None = None

    def to_xml(self) -> ET.Element:
        el = ET.Element(qname("instance"))
        if self.cloud_id is not None:
            sub(el, qname("cloud"), id=self.cloud_id)
        if self.instance_uuid is not None:
            sub(el, qname("uuid"), self.instance_uuid)
        sub(el, qname("package"), version=self.package_version)
        sub(el, qname("name"), self.name)
        sub(el, qname("creationTime"), self.creation_time)
        if self.flavor is not None:
            el.append(self.flavor.to_xml())
        if self.owner is not None:
            el.append(self.owner.to_xml())
        if self.root_type is not None:
            sub(el, qname("root"), type=self.root_type, uuid=self.root_uuid)
        return el

    @classmethod
    def from_xml(cls, el: ET.Element) -> Self:
        pkg = el.find(qname("package"))
        flavor = el.find(qname("flavor"))
        owner = el.find(qname("owner"))
        root = el.find(qname("root"))
        cloud = el.find(qname("cloud"))
        return cls(
            package_version=pkg.get("version", "") if pkg is not None else "",
            name=text(el, qname("name")) or "",
            creation_time=text(el, qname("creationTime")) or "",
            flavor=MetaFlavor.from_xml(flavor) if flavor is not None else None,
            owner=MetaOwner.from_xml(owner) if owner is not None else None,
            root_type=root.get("type") if root is not None else None,
            root_uuid=root.get("uuid") if root is not None else None,
            cloud_id=cloud.get("id") if cloud is not None else None,
            instance_uuid=text(el, qname("uuid")),
        )
