"""virt/ownership.py and the marks in `<stackbox:instance>`: the metadata round trip,
who owns a domain, which domains are orphans; and the libvirt driver acting only on its
own cloud's guests (libvirt's test:///default)."""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from stackbox import config
from stackbox.virt import config as c
from stackbox.virt import ownership, select
from stackbox.virt.driver import (
    BootInfo,
    DiskInfo,
    FlavorSpec,
    GuestNotFound,
    ImageMeta,
    InstanceSpec,
    VirtError,
)
from stackbox.virt.libvirt_driver import LibvirtDriver
from stackbox.virt.ownership import Owner

URI = "test:///default"
MINE, THEIRS = uuidlib.uuid4().hex, uuidlib.uuid4().hex


def _meta(cloud_id: str | None, uuid: str | None = None) -> c.NovaLikeMetadata:
    return c.NovaLikeMetadata(
        "1.0", "vm1", "2026-12-02 00:00:00", cloud_id=cloud_id, instance_uuid=uuid
    )


def _domain(cloud_id: str | None, *, stackbox: bool = True, disk: str = "/nowhere/d") -> c.Domain:
    uuid = str(uuidlib.uuid4())
    return c.Domain(
        type="test",
        name=f"own-{uuid[:8]}",
        uuid=uuid,
        memory=65536,
        metadata=_meta(cloud_id, uuid) if stackbox else None,
        devices=c.Devices(
            disks=[c.Disk(type="file", device="disk", target_dev="vda", source_file=disk)]
        ),
    )


def test_metadata_mark_round_trips() -> None:
    meta = _meta(MINE, "0e4bd3f6-7d2b-4b8c-9b1a-2f0e7c1d5a11")
    el = meta.to_xml()
    assert el.find(ownership.qname("cloud")).get("id") == MINE  # type: ignore[union-attr]
    assert c.NovaLikeMetadata.from_xml(ET.fromstring(ET.tostring(el))) == meta
    unmarked = c.NovaLikeMetadata.from_xml(_meta(None).to_xml())
    assert (unmarked.cloud_id, unmarked.instance_uuid) == (None, None)


def test_owner_of_each_kind_of_domain() -> None:
    def mark(d: c.Domain) -> ownership.Mark:
        return ownership.read_mark(d.to_xml_string())

    assert ownership.owner(mark(_domain(MINE)), MINE) is Owner.THIS
    assert ownership.owner(mark(_domain(THEIRS)), MINE) is Owner.OTHER
    assert ownership.owner(mark(_domain(None)), MINE) is Owner.UNMARKED
    assert ownership.owner(mark(_domain(None, stackbox=False)), MINE) is Owner.FOREIGN
    assert ownership.describe(mark(_domain(THEIRS)), MINE) == f"another stackbox cloud {THEIRS}"
    assert ownership.describe(mark(_domain(THEIRS)), None) == f"stackbox cloud {THEIRS}"
    assert mark(_domain(MINE, disk="/a/disk")).disk_files == ("/a/disk",)


def test_orphans_are_wiped_clouds_and_rowless_guests_of_ours() -> None:
    def orphan(d: c.Domain, rows: set[str] | None, exists: bool) -> bool:
        m = ownership.read_mark(d.to_xml_string())
        return ownership.is_orphan(m, d.uuid or "", MINE, rows, lambda _p: exists)

    theirs, mine = _domain(THEIRS), _domain(MINE)
    assert orphan(theirs, set(), exists=False)  # its state dir is gone
    assert not orphan(theirs, set(), exists=True)  # running or stopped: its files exist
    assert orphan(mine, set(), exists=True)  # no instance row
    assert not orphan(mine, {mine.uuid or ""}, exists=True)
    assert not orphan(mine, None, exists=True)  # rows unknown here: never an orphan
    assert not orphan(_domain(None, stackbox=False), set(), exists=False)
    assert not orphan(_domain(None), set(), exists=False)


@pytest.fixture
def conn() -> Iterator[libvirt.virConnect]:
    conn = libvirt.open(URI)
    made: list[libvirt.virDomain] = []
    conn.made = made  # type: ignore[attr-defined]
    yield conn
    for dom in made:
        try:
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        except libvirt.libvirtError:
            continue
    conn.close()


def _define(conn: libvirt.virConnect, d: c.Domain, start: bool = True) -> libvirt.virDomain:
    dom = conn.defineXML(d.to_xml_string())
    if start:
        dom.create()
    conn.made.append(dom)  # type: ignore[attr-defined]
    return dom


@pytest.fixture
def drv(tmp_path: Path) -> Iterator[LibvirtDriver]:
    cfg = config.load(env={})
    d = LibvirtDriver(URI, select.guest_host_config(cfg, URI), tmp_path, 1.0, MINE)
    yield d
    d.host.close()


def test_driver_never_touches_another_clouds_or_a_foreign_domain(
    conn: libvirt.virConnect, drv: LibvirtDriver
) -> None:
    theirs = _define(conn, _domain(THEIRS))
    foreign = _define(conn, _domain(None, stackbox=False))
    mine = _define(conn, _domain(MINE))
    assert mine.UUIDString() in {g.uuid for g in drv.list_guests()}
    for dom in (theirs, foreign):
        uuid = dom.UUIDString()
        assert uuid not in {g.uuid for g in drv.list_guests()}
        for act in (drv.state, drv.pause, lambda u: drv.power_off(u, 0), drv.domain_xml):
            with pytest.raises(GuestNotFound):
                act(uuid)
        drv.destroy(uuid)  # "missing is fine": and it is left running
        assert dom.isActive()
        assert not drv.adopt(uuid)
    drv.destroy(mine.UUIDString())
    with pytest.raises(libvirt.libvirtError):
        conn.lookupByUUIDString(mine.UUIDString())


def test_driver_adopts_an_unmarked_stackbox_guest(
    conn: libvirt.virConnect, drv: LibvirtDriver
) -> None:
    old = _define(conn, _domain(None))
    uuid = old.UUIDString()
    with pytest.raises(GuestNotFound):
        drv.state(uuid)
    assert drv.adopt(uuid)
    assert drv.state(uuid).state_name == "running"
    meta = ownership.read_mark(old.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).metadata
    assert meta is not None and (meta.cloud_id, meta.instance_uuid, meta.name) == (
        MINE,
        uuid,
        "vm1",
    )
    assert not drv.adopt(uuid)  # already ours


def test_spawn_refuses_a_name_taken_by_another_cloud(
    conn: libvirt.virConnect, drv: LibvirtDriver, tmp_path: Path
) -> None:
    theirs = _define(conn, _domain(THEIRS), start=False)
    spec = InstanceSpec(
        uuid=str(uuidlib.uuid4()),
        name=theirs.name(),
        display_name="vm1",
        project_id="p1",
        user_id="u1",
        flavor=FlavorSpec("1", "m1.tiny", vcpus=1, memory_mb=64, root_gb=1),
        image=ImageMeta("img-1"),
        created_at=dt.datetime(2026, 12, 2),
    )
    boot = BootInfo(tmp_path, (DiskInfo("vda", tmp_path / "disk"),), tmp_path / "console.log")
    with pytest.raises(VirtError, match=f"another stackbox cloud {THEIRS}"):
        drv.spawn(spec, boot)
    assert conn.lookupByName(theirs.name()).UUIDString() == theirs.UUIDString()
