"""Config drives: written with pycdlib, read back with pycdlib (label, layout, content)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pycdlib

from stackbox.guest.configdrive import make_config_drive

META = {"uuid": "6d2c1a39-3f7b-4c51-9c1e-0a4c5e1f2b3d", "hostname": "vm-1", "name": "vm-1"}


def _read(iso: pycdlib.PyCdlib, path: str, joliet: bool = False) -> bytes:
    out = io.BytesIO()
    if joliet:
        iso.get_file_from_iso_fp(out, joliet_path=path)
    else:
        iso.get_file_from_iso_fp(out, rr_path=path)
    return out.getvalue()


def _files(iso: pycdlib.PyCdlib) -> set[str]:
    return {
        f"{root.rstrip('/')}/{name}"
        for root, _dirs, names in iso.walk(rr_path="/")
        for name in names
    }


def test_config_drive_layout_and_content(tmp_path: Path) -> None:
    network = {"links": [{"id": "tap1", "type": "phy"}], "networks": [], "services": []}
    path = make_config_drive(
        tmp_path / "disk.config",
        META,
        user_data=b"#!/bin/sh\necho hello\n",
        network_data=network,
        vendor_data={"k": "v"},
    )
    assert path == tmp_path / "disk.config" and not list(tmp_path.glob(".*tmp"))
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        assert iso.pvd.volume_identifier.decode().strip() == "config-2"
        assert iso.has_rock_ridge() and iso.has_joliet()
        files = _files(iso)
        for version in ("latest", "2012-08-10"):
            assert json.loads(_read(iso, f"/openstack/{version}/meta_data.json")) == META
            assert _read(iso, f"/openstack/{version}/user_data") == b"#!/bin/sh\necho hello\n"
        assert json.loads(_read(iso, "/openstack/latest/network_data.json")) == network
        assert json.loads(_read(iso, "/openstack/latest/vendor_data.json")) == {"k": "v"}
        assert "/openstack/2012-08-10/network_data.json" not in files  # not in that version
        ec2 = json.loads(_read(iso, "/ec2/latest/meta-data.json"))
        assert ec2["hostname"] == "vm-1" and ec2["instance-id"].startswith("i-")
        # long names also survive through Joliet (what Windows guests read)
        assert json.loads(_read(iso, "/openstack/latest/meta_data.json", joliet=True)) == META
    finally:
        iso.close()


def test_config_drive_minimal_has_no_user_data(tmp_path: Path) -> None:
    path = make_config_drive(tmp_path / "cd.iso", {"uuid": "u1"})
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        files = _files(iso)
        assert "/openstack/latest/meta_data.json" in files
        assert not any(f.endswith(("user_data", "user-data", "network_data.json")) for f in files)
        assert json.loads(_read(iso, "/openstack/latest/vendor_data.json")) == {}
    finally:
        iso.close()


def test_personality_content_and_no_files_key_without_it(tmp_path: Path) -> None:
    meta = {**META, "files": [{"path": "/etc/motd", "content_path": "/content/0000"}]}
    path = make_config_drive(tmp_path / "a", meta, content={"0000": b"hi\n"})
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        assert _read(iso, "/openstack/content/0000") == b"hi\n"
        assert _read(iso, "/openstack/content/0000", joliet=True) == b"hi\n"
        assert json.loads(_read(iso, "/openstack/latest/meta_data.json"))["files"] == meta["files"]
    finally:
        iso.close()
    iso = pycdlib.PyCdlib()
    iso.open(str(make_config_drive(tmp_path / "b", META)))
    try:
        assert not any("/content" in f for f in _files(iso))
    finally:
        iso.close()
