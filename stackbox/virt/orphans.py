"""`stackbox virt remove-orphans --cloud ID`: force off and undefine the domains of
stackbox cloud ID that `stackbox virt domains` lists as orphans (`ownership.py`'s rule:
another cloud's domains whose disk files are all gone, i.e. its state dir was wiped, and
this cloud's domains without an instance row). Every other domain of that cloud is left
alone and named: a cloud that still runs, or is only stopped, keeps its files, so its
guests are never orphans. Domains of no stackbox cloud are never touched.

Not here: listing (`tools.py`), the compute service's own guests (its driver).
"""

from __future__ import annotations

import sys
from typing import TextIO

import libvirt

from stackbox.virt import tools
from stackbox.virt.driver import VirtError
from stackbox.virt.guest import Guest


def remove_orphans(
    conn: libvirt.virConnect, cloud_id: str, cloud: tools.Cloud
) -> tuple[list[tools.DomainRow], list[tools.DomainRow]]:
    """(removed, kept): the orphans of `cloud_id` removed, its other domains kept."""
    removed: list[tools.DomainRow] = []
    kept: list[tools.DomainRow] = []
    for dom in conn.listAllDomains(0):
        try:
            row = tools.domain_row(dom, cloud)
        except libvirt.libvirtError:  # undefined while we looked
            continue
        if row.cloud_id != cloud_id:
            continue
        if not row.orphan:
            kept.append(row)
            continue
        guest = Guest(dom)
        guest.destroy()
        guest.undefine()
        removed.append(row)
    return removed, kept


def remove_orphans_command(
    uri: str,
    cloud_id: str,
    cloud: tools.Cloud,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Exit code 0 when orphans were removed or there were none, 1 on errors."""
    try:
        conn = tools.open_readwrite(uri)
        try:
            removed, kept = remove_orphans(conn, cloud_id, cloud)
        finally:
            conn.close()
    except (tools.ToolError, VirtError, libvirt.libvirtError) as exc:
        print(f"stackbox: {exc}", file=err)
        return 1
    for row in removed:
        print(f"removed {row.name} ({row.uuid}), {row.state}", file=out)
    for row in kept:
        print(
            f"left {row.name} ({row.uuid}) alone: not an orphan (its cloud's files exist "
            "or it has an instance row)",
            file=out,
        )
    if not removed:
        print(f"no orphan domain of stackbox cloud {cloud_id}", file=out)
    return 0
