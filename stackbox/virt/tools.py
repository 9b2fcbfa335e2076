"""The `stackbox virt domains|disks` operator commands: what libvirt has, read-only.

`list_domains` and `domain_disks` take an open libvirt connection and return rows (disks are
read from the domain XML through `config.Domain`; owners and orphans by the rules of
`ownership.py`, seen from `Cloud`, this cloud's id and instance uuids when its database is
readable here); `domains_command` / `disks_command` open the connection, print and return
an exit code. Nothing here changes a domain: the compute service's driver does that, and
`orphans.py` removes what `domains` lists as orphans.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

import libvirt

from stackbox.virt import config, ownership

DEFAULT_URI = "qemu:///system"

# virDomainState → the words operators see.
STATE_NAMES: dict[int, str] = {
    libvirt.VIR_DOMAIN_NOSTATE: "no state",
    libvirt.VIR_DOMAIN_RUNNING: "running",
    libvirt.VIR_DOMAIN_BLOCKED: "blocked",
    libvirt.VIR_DOMAIN_PAUSED: "paused",
    libvirt.VIR_DOMAIN_SHUTDOWN: "being shut down",
    libvirt.VIR_DOMAIN_SHUTOFF: "shut off",
    libvirt.VIR_DOMAIN_CRASHED: "crashed",
    libvirt.VIR_DOMAIN_PMSUSPENDED: "suspended by guest power management",
}


class ToolError(Exception):
    """The command cannot answer (no connection, no such domain); the message says why."""


@dataclass(frozen=True)
class Cloud:
    """This cloud as far as the tool can tell: its id and its instances' uuids (None
    when its database is not readable here, e.g. on a scale-out compute host)."""

    cloud_id: str | None = None
    instance_uuids: frozenset[str] | None = None
    exists: Callable[[str], bool] = field(default=os.path.exists)


@dataclass(frozen=True)
class DomainRow:
    id: int  # -1 when not running
    name: str
    uuid: str
    state: str
    owner: str = ownership.Owner.FOREIGN.value
    cloud_id: str | None = None  # the stackbox cloud it is marked with
    orphan: bool = False


@dataclass(frozen=True)
class DiskRow:
    device: str  # target dev: vda, hdd...
    source_file: str | None  # file path (or block device path); None for an empty cdrom
    format: str | None  # qcow2 | raw; None when libvirt has no driver type


def default_uri(virt_uri: str | None) -> str:
    """The URI to use: the configured compute.virt_uri unless it is "auto" or empty."""
    return virt_uri if virt_uri and virt_uri != "auto" else DEFAULT_URI


def state_name(state: int) -> str:
    return STATE_NAMES.get(state, f"unknown ({state})")


def _quiet(_ctx: object, _err: object) -> None:
    """libvirt's default error handler prints every error to stderr; ours raise instead."""


def open_readonly(uri: str) -> libvirt.virConnect:
    libvirt.registerErrorHandler(_quiet, None)
    try:
        return libvirt.openReadOnly(uri)
    except libvirt.libvirtError as exc:
        raise ToolError(f"cannot connect to the hypervisor at {uri}: {exc}") from exc


def domain_row(dom: libvirt.virDomain, cloud: Cloud) -> DomainRow:
    mark = ownership.read_mark(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    uuid = dom.UUIDString()
    orphan = ownership.is_orphan(mark, uuid, cloud.cloud_id, cloud.instance_uuids, cloud.exists)
    owner = ownership.describe(mark, cloud.cloud_id)
    state = state_name(dom.state()[0])
    return DomainRow(dom.ID(), dom.name(), uuid, state, owner, mark.cloud_id, orphan)


def open_readwrite(uri: str) -> libvirt.virConnect:
    """For `orphans.py`, the one command here that changes domains."""
    libvirt.registerErrorHandler(_quiet, None)
    try:
        return libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise ToolError(f"cannot connect to the hypervisor at {uri}: {exc}") from exc


def list_domains(conn: libvirt.virConnect, cloud: Cloud | None = None) -> list[DomainRow]:
    """Every domain, running ones first (by id), then defined ones by name."""
    rows = []
    for dom in conn.listAllDomains(0):
        try:
            rows.append(domain_row(dom, cloud or Cloud()))
        except libvirt.libvirtError:  # undefined while we looked
            continue
    return sorted(rows, key=lambda r: (r.id < 0, r.id, r.name))


def removal_lines(rows: list[DomainRow], uri: str) -> list[str]:
    """The orphans by cloud, each cloud with the command that removes them."""
    lines: list[str] = []
    for cloud_id in sorted({r.cloud_id or "" for r in rows if r.orphan}):
        names = ", ".join(r.name for r in rows if r.orphan and r.cloud_id == cloud_id)
        lines.append(f"orphans of stackbox cloud {cloud_id}: {names}")
        lines.append(f"  remove them: stackbox virt remove-orphans --cloud {cloud_id} --uri {uri}")
    return lines


def lookup(conn: libvirt.virConnect, name_or_uuid: str) -> libvirt.virDomain:
    """A domain by name, else by uuid; ToolError when neither exists."""
    for find in (conn.lookupByName, conn.lookupByUUIDString):
        try:
            return find(name_or_uuid)
        except libvirt.libvirtError:
            continue
    raise ToolError(f"no domain named {name_or_uuid!r} (by name or uuid)")


def disks_of(domain: config.Domain) -> list[DiskRow]:
    """(target, source, format) per disk of a parsed domain, in XML order, no duplicates."""
    rows: list[DiskRow] = []
    for d in domain.devices.disks:
        row = DiskRow(d.target_dev, d.source_file or d.source_dev, d.driver_type)
        if row not in rows:
            rows.append(row)
    return rows


def domain_disks(conn: libvirt.virConnect, name_or_uuid: str) -> list[DiskRow]:
    return disks_of(config.Domain.from_xml_string(lookup(conn, name_or_uuid).XMLDesc(0)))


def format_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Left-aligned columns, like `virsh list`."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    lines = [" " + "   ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("-" * (len(lines[0]) + 1))
    lines += [
        " " + "   ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    return [line.rstrip() for line in lines]


def domains_command(
    uri: str, out: TextIO = sys.stdout, err: TextIO = sys.stderr, cloud: Cloud | None = None
) -> int:
    try:
        conn = open_readonly(uri)
        try:
            rows = list_domains(conn, cloud)
        finally:
            conn.close()
    except (ToolError, libvirt.libvirtError) as exc:
        print(f"stackbox: {exc}", file=err)
        return 1
    table = [
        ["-" if r.id < 0 else str(r.id), r.name, r.uuid, r.state, r.owner + orphan_tag(r)]
        for r in rows
    ]
    for line in format_table(["Id", "Name", "UUID", "State", "Owner"], table):
        print(line, file=out)
    for line in removal_lines(rows, uri):
        print(line, file=out)
    return 0


def orphan_tag(row: DomainRow) -> str:
    return " (orphan)" if row.orphan else ""


def disks_command(
    uri: str, name_or_uuid: str, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    try:
        conn = open_readonly(uri)
        try:
            rows = domain_disks(conn, name_or_uuid)
        finally:
            conn.close()
    except (ToolError, libvirt.libvirtError, ValueError) as exc:
        print(f"stackbox: {exc}", file=err)
        return 1
    table = [[r.device, r.source_file or "-", r.format or "-"] for r in rows]
    for line in format_table(["Target", "Source", "Format"], table):
        print(line, file=out)
    return 0
