"""OpenStack config drives: an ISO 9660 image labelled `config-2` (pure Python, pycdlib).

Layout as Nova writes it (cloud-init and the stackbox test guest read it):

    openstack/<version>/meta_data.json    every version (2012-08-10 ... latest)
    openstack/<version>/user_data         when there is user data
    openstack/<version>/vendor_data.json  2013-10-17 and later
    openstack/<version>/network_data.json 2015-10-15 and later, when given
    openstack/content/NNNN                personality files (meta_data.json `files`)
    ec2/<version>/meta-data.json (+ user-data)

Rock Ridge and Joliet carry the real (long, lower-case) names; the plain ISO 9660 names
underneath are mangled 8.3 names. Used by the compute service and the guest tests; no
host commands, no I/O besides writing the image.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pycdlib

LABEL = "config-2"
OPENSTACK_VERSIONS = (
    "2012-08-10",
    "2013-04-04",
    "2013-10-17",
    "2015-10-15",
    "2016-06-30",
    "2016-10-06",
    "2017-02-22",
    "2018-08-27",
    "latest",
)
EC2_VERSIONS = ("2009-04-04", "latest")


def _json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True).encode()


def _ec2_meta_data(meta: Mapping[str, Any]) -> dict[str, Any]:
    uuid = str(meta.get("uuid", ""))
    hostname = str(meta.get("hostname", meta.get("name", "")))
    ec2: dict[str, Any] = {
        "instance-id": meta.get("ec2_instance_id", f"i-{uuid.replace('-', '')[:8] or '00000000'}"),
        "hostname": hostname,
        "local-hostname": hostname,
        "placement": {"availability-zone": meta.get("availability_zone", "nova")},
        "ami-launch-index": meta.get("launch_index", 0),
    }
    if keys := meta.get("public_keys"):
        ec2["public-keys"] = {
            str(i): {"openssh-key": key} for i, key in enumerate(dict(keys).values())
        }
    return ec2


def config_drive_files(
    meta_data: Mapping[str, Any],
    user_data: bytes | None = None,
    network_data: Mapping[str, Any] | None = None,
    vendor_data: Mapping[str, Any] | None = None,
    content: Mapping[str, bytes] | None = None,
) -> dict[str, bytes]:
    """path -> content of every file on the drive (pure; make_config_drive writes them).
    `content` maps the names under openstack/content/ to their bytes."""
    files: dict[str, bytes] = {f"openstack/content/{k}": v for k, v in (content or {}).items()}
    for version in OPENSTACK_VERSIONS:
        base = f"openstack/{version}"
        files[f"{base}/meta_data.json"] = _json(dict(meta_data))
        if user_data is not None:
            files[f"{base}/user_data"] = user_data
        if version == "latest" or version >= "2013-10-17":
            files[f"{base}/vendor_data.json"] = _json(dict(vendor_data or {}))
        if network_data is not None and (version == "latest" or version >= "2015-10-15"):
            files[f"{base}/network_data.json"] = _json(dict(network_data))
    ec2 = _json(_ec2_meta_data(meta_data))
    for version in EC2_VERSIONS:
        files[f"ec2/{version}/meta-data.json"] = ec2
        if user_data is not None:
            files[f"ec2/{version}/user-data"] = user_data
    return files


class _Names:
    """Unique ISO 9660 level-1 names (8.3, d-characters) per directory."""

    def __init__(self) -> None:
        self.used: dict[str, set[str]] = {}
        self.mapped: dict[str, str] = {"": ""}

    def iso_path(self, path: str, is_dir: bool) -> str:
        if path in self.mapped:
            return self.mapped[path]
        parent, _, name = path.rpartition("/")
        parent_iso = self.iso_path(parent, True) if parent else ""
        stem, dot, ext = name.rpartition(".") if "." in name and not is_dir else (name, "", "")
        stem = re.sub(r"[^A-Z0-9_]", "_", stem.upper())[:8] or "_"
        ext = re.sub(r"[^A-Z0-9_]", "_", ext.upper())[:3]
        taken = self.used.setdefault(parent_iso, set())
        candidate, n = stem, 0
        while (candidate + (("." + ext) if dot else "")) in taken:
            n += 1
            candidate = stem[: 8 - len(str(n)) - 1] + "~" + str(n)
        short = candidate + (("." + ext) if dot else "")
        taken.add(short)
        iso = f"{parent_iso}/{short}" + ("" if is_dir else (";1" if dot else ".;1"))
        self.mapped[path] = iso
        return iso


def make_config_drive(
    path: Path,
    meta_data: dict,
    user_data: bytes | None = None,
    network_data: dict | None = None,
    vendor_data: dict | None = None,
    content: Mapping[str, bytes] | None = None,
) -> Path:
    """Write the config drive ISO to path (atomically: a temporary file, then rename)."""
    path = Path(path)
    files = config_drive_files(meta_data, user_data, network_data, vendor_data, content)
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=1, vol_ident=LABEL, sys_ident="LINUX", joliet=3, rock_ridge="1.09")
    names = _Names()
    made: set[str] = set()
    for name in sorted(files):
        parts = name.split("/")
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth])
            if directory not in made:
                made.add(directory)
                iso.add_directory(
                    names.iso_path(directory, True),
                    rr_name=parts[depth - 1],
                    joliet_path="/" + directory,
                )
        data = files[name]
        iso.add_fp(
            io.BytesIO(data),
            len(data),
            names.iso_path(name, False),
            rr_name=parts[-1],
            joliet_path="/" + name,
        )
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        iso.write(str(tmp))
        os.replace(tmp, path)
    finally:
        iso.close()
        tmp.unlink(missing_ok=True)
    return path
