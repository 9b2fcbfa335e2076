"""`stackbox virt domains|disks`: in-process against libvirt's test:///default (whose state
lives per process), and the command line's shape through a subprocess."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from stackbox.virt import config as c
from stackbox.virt import orphans, tools

URI = "test:///default"
TEST_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"


@pytest.fixture
def conn() -> Iterator[libvirt.virConnect]:
    conn = libvirt.open(URI)
    yield conn
    conn.close()


def _define(conn: libvirt.virConnect, disks: list[c.Disk]) -> libvirt.virDomain:
    name = f"sbx-tools-{uuid.uuid4().hex[:8]}"
    dom = c.Domain(type="test", name=name, memory=65536, devices=c.Devices(disks=disks))
    return conn.defineXML(dom.to_xml_string())


def test_state_names_are_the_operators_words() -> None:
    assert [tools.state_name(s) for s in range(8)] == [
        "no state",
        "running",
        "blocked",
        "paused",
        "being shut down",
        "shut off",
        "crashed",
        "suspended by guest power management",
    ]
    assert tools.state_name(42) == "unknown (42)"


def test_lists_running_paused_and_defined_domains(conn: libvirt.virConnect) -> None:
    off = _define(conn, [])
    paused = _define(conn, [])
    paused.create()
    paused.suspend()
    try:
        rows = {r.name: r for r in tools.list_domains(conn)}
        assert rows["test"] == tools.DomainRow(1, "test", TEST_UUID, "running")
        assert rows[off.name()] == tools.DomainRow(-1, off.name(), off.UUIDString(), "shut off")
        assert rows[paused.name()].state == "paused" and rows[paused.name()].id > 0
        names = [r.name for r in tools.list_domains(conn)]
        assert names.index("test") < names.index(off.name())  # running before defined
    finally:
        paused.destroy()
        paused.undefine()
        off.undefine()


def test_domains_command_prints_a_table(conn: libvirt.virConnect) -> None:
    running, off = _define(conn, []), _define(conn, [])
    running.create()
    try:
        out, err = io.StringIO(), io.StringIO()
        assert tools.domains_command(URI, out, err) == 0
        lines = out.getvalue().splitlines()
        assert lines[0].split() == ["Id", "Name", "UUID", "State", "Owner"]
        rows = [line.split() for line in lines[2:]]
        assert [
            str(running.ID()),
            running.name(),
            running.UUIDString(),
            "running",
            "not",
            "stackbox",
        ] in rows
        assert ["-", off.name(), off.UUIDString(), "shut", "off", "not", "stackbox"] in rows
        assert err.getvalue() == ""
    finally:
        running.destroy()
        running.undefine()
        off.undefine()


def test_disks_of_a_domain_by_name_or_uuid(conn: libvirt.virConnect) -> None:
    dom = _define(
        conn,
        [
            c.Disk("file", "disk", "vda", "virtio", source_file="/i/disk", driver_type="qcow2"),
            c.Disk("block", "disk", "vdb", "virtio", source_dev="/dev/sdc", driver_type="raw"),
            c.Disk("file", "cdrom", "hdc", "ide"),
        ],
    )
    try:
        want = [
            tools.DiskRow("vda", "/i/disk", "qcow2"),
            tools.DiskRow("vdb", "/dev/sdc", "raw"),
            tools.DiskRow("hdc", None, None),
        ]
        assert tools.domain_disks(conn, dom.name()) == want
        assert tools.domain_disks(conn, dom.UUIDString()) == want
        out = io.StringIO()
        assert tools.disks_command(URI, dom.name(), out, io.StringIO()) == 0
        lines = [line.split() for line in out.getvalue().splitlines()]
        assert lines[0] == ["Target", "Source", "Format"]
        assert lines[2:] == [["vda", "/i/disk", "qcow2"], ["vdb", "/dev/sdc", "raw"],
                             ["hdc", "-", "-"]]  # fmt: skip
    finally:
        dom.undefine()


def test_unknown_domain_and_bad_uri_are_clear_errors() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert tools.disks_command(URI, "no-such-domain", out, err) == 1
    assert "no domain named 'no-such-domain'" in err.getvalue() and out.getvalue() == ""
    err = io.StringIO()
    assert tools.domains_command("bogus:///nowhere", io.StringIO(), err) == 1
    assert "cannot connect to the hypervisor at bogus:///nowhere" in err.getvalue()


def test_default_uri() -> None:
    assert tools.default_uri("auto") == "qemu:///system"
    assert tools.default_uri("") == "qemu:///system"
    assert tools.default_uri("test:///default") == "test:///default"


BIN = Path(sys.executable).parent / "stackbox"


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *args],
        env={**os.environ, "STACKBOX_CONFIG": "", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_domains_and_disks() -> None:
    r = _cli("virt", "domains", "--uri", URI)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()]
    assert ["1", "test", TEST_UUID, "running", "not", "stackbox"] in rows
    r = _cli("virt", "disks", "test", "--uri", URI)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[2].split() == ["vda", "/guest/diskimage1", "-"]


def test_cli_uri_defaults_to_the_configured_virt_uri() -> None:
    r = _cli("virt", "disks", "test", STACKBOX_COMPUTE__VIRT_URI=URI)
    assert r.returncode == 0, r.stderr
    assert "/guest/diskimage1" in r.stdout


def test_cli_unknown_domain_fails_without_traceback() -> None:
    r = _cli("virt", "disks", "nope", "--uri", URI)
    assert r.returncode == 1
    assert r.stderr.strip() == "stackbox: no domain named 'nope' (by name or uuid)"


def _marked(conn: libvirt.virConnect, cloud_id: str, disk: str) -> libvirt.virDomain:
    name = f"sbx-own-{uuid.uuid4().hex[:8]}"
    meta = c.NovaLikeMetadata("1.0", "vm", "2026-12-02 00:00:00", cloud_id=cloud_id)
    disks = [c.Disk(type="file", device="disk", target_dev="vda", source_file=disk)]
    dom = c.Domain(
        type="test", name=name, memory=65536, metadata=meta, devices=c.Devices(disks=disks)
    )
    return conn.defineXML(dom.to_xml_string())


def test_owners_orphans_and_their_removal(conn: libvirt.virConnect, tmp_path: Path) -> None:
    mine, wiped, alive = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    (tmp_path / "disk").write_text("")
    ours, rowless = _marked(conn, mine, str(tmp_path / "disk")), _marked(conn, mine, "/x")
    gone = _marked(conn, wiped, str(tmp_path / "wiped" / "disk"))
    running = _marked(conn, alive, str(tmp_path / "disk"))
    running.create()
    here = tools.Cloud(mine, frozenset({ours.UUIDString()}))
    try:
        rows = {r.name: r for r in tools.list_domains(conn, here)}
        assert rows["test"].owner == "not stackbox" and not rows["test"].orphan
        assert (rows[ours.name()].owner, rows[ours.name()].orphan) == ("this cloud", False)
        assert rows[rowless.name()].orphan
        assert (rows[gone.name()].owner, rows[gone.name()].orphan) == (
            f"another stackbox cloud {wiped}",
            True,
        )
        assert not rows[running.name()].orphan  # its files are there: it runs
        out = io.StringIO()
        assert tools.domains_command(URI, out=out, cloud=here) == 0
        text = out.getvalue()
        assert f"stackbox virt remove-orphans --cloud {wiped} --uri {URI}" in text
        assert f"--cloud {alive}" not in text and "(orphan)" in text

        out = io.StringIO()
        assert orphans.remove_orphans_command(URI, alive, here, out=out) == 0
        assert running.isActive() and "left" in out.getvalue()
        removed, kept = orphans.remove_orphans(conn, wiped, here)
        assert [r.uuid for r in removed] == [gone.UUIDString()] and kept == []
        removed, kept = orphans.remove_orphans(conn, mine, here)
        assert [r.uuid for r in removed] == [rowless.UUIDString()]
        assert [r.uuid for r in kept] == [ours.UUIDString()]
        left = {d.UUIDString() for d in conn.listAllDomains()}
        assert {ours.UUIDString(), running.UUIDString()} <= left
        assert not {gone.UUIDString(), rowless.UUIDString()} & left
    finally:
        for dom in (ours, rowless, gone, running):
            try:
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
            except libvirt.libvirtError:
                continue
