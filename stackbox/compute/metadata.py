"""What an instance learns about itself: the content of its config drive (and, later, of
the metadata service), built from the instance payload. Pure functions, no I/O: the
config-drive ISO itself is written by `stackbox.guest.configdrive.make_config_drive`.

* `meta_data(instance)` -- OpenStack `meta_data.json` as Nova's config drive has it
  (uuid, name, hostname, launch_index, availability_zone, project_id, public_keys,
  keys, meta, devices, random_seed, admin_pass when a password was given).
* `ec2_meta_data(instance)` -- the EC2-style `meta-data` (instance-id i-%08x from the
  instance's database id, hostname, ami-id, placement...).
* `user_data(instance)` -- the raw user data (base64-decoded from the payload).
* `add_files(md, injected_files)` -- a personality's files: `files` in meta_data.json and
  the contents for `openstack/content/NNNN`.
* `network_data(instance)` -- `network_data.json` (no links/networks until networking).

Not here: the ISO layout (configdrive.py), the HTTP metadata service, any database.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from typing import Any

_NAME_ID = re.compile(r"^instance-([0-9a-fA-F]+)$")
RANDOM_SEED_BYTES = 512


def instance_id(instance: dict[str, Any]) -> int:
    """The instance's integer database id, recovered from its name `instance-%08x`
    (0 when the name has another shape)."""
    m = _NAME_ID.match(str(instance.get("name") or ""))
    return int(m.group(1), 16) if m else 0


def ec2_id(value: int, kind: str = "i") -> str:
    """EC2-style id: `i-0000000a`."""
    return f"{kind}-{value:08x}"


def _key_type(data: str) -> str:
    return "x509" if data.lstrip().startswith("-----BEGIN CERTIFICATE") else "ssh"


def meta_data(
    instance: dict[str, Any],
    admin_password: str | None = None,
    *,
    random_seed: bytes | None = None,
) -> dict[str, Any]:
    """`openstack/<version>/meta_data.json` of the instance."""
    key_name, key_data = instance.get("key_name"), instance.get("key_data")
    public_keys: dict[str, str] = {}
    keys: list[dict[str, str]] = []
    if key_name and key_data:
        public_keys[key_name] = key_data
        keys.append({"name": key_name, "type": _key_type(key_data), "data": key_data})
    seed = os.urandom(RANDOM_SEED_BYTES) if random_seed is None else random_seed
    md: dict[str, Any] = {
        "uuid": instance["uuid"],
        "name": instance.get("display_name") or instance.get("hostname") or instance["uuid"],
        "hostname": instance.get("hostname") or "",
        "launch_index": int(instance.get("launch_index") or 0),
        "availability_zone": instance.get("availability_zone") or "nova",
        "project_id": instance.get("project_id"),
        "public_keys": public_keys,
        "keys": keys,
        "meta": {str(k): str(v) for k, v in (instance.get("metadata") or {}).items()},
        "devices": [],
        "random_seed": base64.b64encode(seed).decode("ascii"),
        # Read by configdrive.py for the drive's ec2 files (instance-id i-%08x).
        "ec2_instance_id": ec2_id(instance_id(instance)),
    }
    if admin_password:
        md["admin_pass"] = admin_password
    return md


def ec2_meta_data(instance: dict[str, Any]) -> dict[str, Any]:
    """The EC2 `meta-data` tree of the instance (as the metadata service serves it)."""
    image = instance.get("image_meta") or {}
    hostname = instance.get("hostname") or ""
    md: dict[str, Any] = {
        "instance-id": ec2_id(instance_id(instance)),
        "instance-type": (instance.get("flavor") or {}).get("name", ""),
        "ami-id": image.get("id") or instance.get("image_ref") or "",
        "ami-launch-index": int(instance.get("launch_index") or 0),
        "reservation-id": instance.get("reservation_id") or "",
        "hostname": hostname,
        "local-hostname": hostname,
        "placement": {"availability-zone": instance.get("availability_zone") or "nova"},
        "block-device-mapping": {"ami": "vda", "root": instance.get("root_device_name") or ""},
    }
    if instance.get("key_name") and instance.get("key_data"):
        md["public-keys"] = {"0": {"openssh-key": instance["key_data"]}}
    return md


def user_data(instance: dict[str, Any]) -> bytes | None:
    """The user data as the guest sees it (the payload carries it base64-encoded).
    Data that is not valid base64 is passed through as UTF-8 text."""
    raw = instance.get("user_data")
    if not raw:
        return None
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return str(raw).encode("utf-8")


def add_files(md: dict[str, Any], injected_files: list[dict[str, str]] | None) -> dict[str, bytes]:
    """Nova's personality files: each as `openstack/content/NNNN` (the returned key ->
    content) and listed in `md["files"]` as {"path", "content_path": "/content/NNNN"}
    (no `files` key without files). The cast carries the contents base64-encoded."""
    content: dict[str, bytes] = {}
    files = []
    for item in injected_files or []:
        key = f"{len(content):04d}"
        content[key] = base64.b64decode(item["contents"])
        files.append({"path": item["path"], "content_path": f"/content/{key}"})
    if files:
        md["files"] = files
    return content


def network_data(instance: dict[str, Any]) -> dict[str, Any]:
    """`network_data.json`: empty until the networking issue fills network_info."""
    return {"links": [], "networks": [], "services": []}
