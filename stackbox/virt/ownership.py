"""Whose domain is this? Several stackbox clouds (and other libvirt users) may share one
libvirtd, so stackbox marks every guest it defines with its cloud id (`<stackbox:cloud>`
inside `<stackbox:instance>`, see `config_metadata.py`) and acts only on guests carrying
its own mark. Pure functions over domain XML; no libvirt calls (the driver and the
`stackbox virt` tools make them).

Owners:
* THIS      -- marked with this cloud's id;
* OTHER     -- marked with another stackbox cloud's id;
* UNMARKED  -- stackbox metadata without a cloud id: made before clouds had ids; the
  compute host adopts (marks) those of its own instances at start (`recovery.init_host`);
* FOREIGN   -- no stackbox metadata: not stackbox's, never touched.

Orphans (what `stackbox virt domains` offers to remove): a domain marked with another
cloud's id none of whose disk files exist any more (that cloud's state dir was wiped: a
cloud merely stopped, or still running, keeps its files and is never an orphan), and a
domain of this cloud with no instance row.
"""

from __future__ import annotations

import dataclasses
import enum
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection
from dataclasses import dataclass

from stackbox.virt.config_metadata import NovaLikeMetadata, qname


class Owner(enum.Enum):
    THIS = "this cloud"
    OTHER = "another stackbox cloud"
    UNMARKED = "stackbox, no cloud id"
    FOREIGN = "not stackbox"


@dataclass(frozen=True)
class Mark:
    """What a domain says about itself: its stackbox metadata (None: none) and disks."""

    metadata: NovaLikeMetadata | None
    disk_files: tuple[str, ...] = ()

    @property
    def cloud_id(self) -> str | None:
        return self.metadata.cloud_id if self.metadata is not None else None


def read_mark(domain_xml: str) -> Mark:
    """The mark and the file-backed disk sources of a domain's XML."""
    root = ET.fromstring(domain_xml)
    el = root.find(f"metadata/{qname('instance')}")
    files = tuple(
        src.get("file", "")
        for src in root.findall("devices/disk/source")
        if src.get("file")  # block devices and empty cdroms have none
    )
    return Mark(NovaLikeMetadata.from_xml(el) if el is not None else None, files)


def owner(mark: Mark, this_cloud: str | None) -> Owner:
    """Whose the domain is, seen from the cloud `this_cloud` (None: unknown here)."""
    if mark.metadata is None:
        return Owner.FOREIGN
    if mark.cloud_id is None:
        return Owner.UNMARKED
    return Owner.THIS if mark.cloud_id == this_cloud else Owner.OTHER


def is_orphan(
    mark: Mark,
    uuid: str,
    this_cloud: str | None,
    instance_uuids: Collection[str] | None,
    exists: Callable[[str], bool],
) -> bool:
    """The rule of the module docstring. `instance_uuids` None: this cloud's rows are not
    readable here, so none of its domains is called an orphan."""
    who = owner(mark, this_cloud)
    if who is Owner.OTHER:
        return bool(mark.disk_files) and not any(exists(f) for f in mark.disk_files)
    if who is Owner.THIS:
        return instance_uuids is not None and uuid not in instance_uuids
    return False


def describe(mark: Mark, this_cloud: str | None) -> str:
    """The Owner column of `stackbox virt domains`."""
    if this_cloud is None and mark.cloud_id is not None:  # no database here to tell
        return f"stackbox cloud {mark.cloud_id}"
    who = owner(mark, this_cloud)
    return f"{who.value} {mark.cloud_id}" if who is Owner.OTHER else who.value


def marked(metadata: NovaLikeMetadata, cloud_id: str, instance_uuid: str) -> str:
    """The `<stackbox:instance>` element of an adopted guest as virDomainSetMetadata
    takes it: the same metadata plus this cloud's mark, in no namespace (libvirt puts
    the element and its children into the one it is given)."""
    mine = dataclasses.replace(metadata, cloud_id=cloud_id, instance_uuid=instance_uuid)
    el = mine.to_xml()
    for node in el.iter():
        node.tag = node.tag.split("}", 1)[-1]
    return ET.tostring(el, encoding="unicode")
