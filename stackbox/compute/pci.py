"""PCI passthrough, the pure part: `[pci] alias` and `[pci] passthrough_whitelist`
(Nova's JSON strings, seed 002 §5.4.15.1), host devices from libvirt node-device XML,
the pools the scheduler sees, and the `pci_passthrough:alias=NAME:N` request.

Pure: strings and dicts in, dataclasses and dicts out. Claiming devices (a conditional
UPDATE of pci_devices) is in scheduler/claims.py; the scheduler filter in
scheduler/filters_pci.py; `<hostdev>` in virt/config_numa.py.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_ADDRESS = re.compile(r"^([0-9a-f*]{1,4}):([0-9a-f*]{1,2}):([0-9a-f*]{1,2})\.([0-7*])$", re.I)


class InvalidPciConfig(ValueError):
    """A malformed alias or whitelist entry (the compute service refuses to start)."""


class InvalidPciRequest(ValueError):
    """A flavor asking for an unknown alias or a bad count (a 400 at create)."""


@dataclass(frozen=True)
class Alias:
    name: str
    vendor_id: str
    product_id: str
    device_type: str = "type-PCI"
    numa_policy: str = "legacy"


@dataclass(frozen=True)
class WhitelistEntry:
    vendor_id: str | None = None
    product_id: str | None = None
    address: str | None = None  # may hold "*" wildcards per field

    def matches(self, dev: Mapping[str, Any]) -> bool:
        if self.vendor_id not in (None, "*") and self.vendor_id != dev["vendor_id"]:
            return False
        if self.product_id not in (None, "*") and self.product_id != dev["product_id"]:
            return False
        if self.address:
            want = _ADDRESS.match(self.address)
            have = _ADDRESS.match(dev["address"])
            if not want or not have:
                return False
            for w, h in zip(want.groups(), have.groups(), strict=True):
                if w != "*" and int(w, 16) != int(h, 16):
                    return False
        return True


def _hex(value: Any, what: str) -> str:
    text = str(value or "").lower().removeprefix("0x")
    if text == "*":
        return text
    if not re.fullmatch(r"[0-9a-f]{4}", text):
        raise InvalidPciConfig(f"invalid {what} {value!r}: four hex digits expected")
    return text


def _json_objects(values: str | Iterable[str]) -> list[dict[str, Any]]:
    """Each value is a JSON object or a JSON list of objects (Nova accepts both)."""
    if isinstance(values, str):
        values = [values] if values.strip() else []
    out: list[dict[str, Any]] = []
    for v in values:
        try:
            data = json.loads(v)
        except ValueError as exc:
            raise InvalidPciConfig(f"not JSON: {v!r} ({exc})") from None
        for obj in data if isinstance(data, list) else [data]:
            if not isinstance(obj, dict):
                raise InvalidPciConfig(f"a JSON object expected, got {obj!r}")
            out.append(obj)
    return out


def parse_aliases(values: str | Iterable[str]) -> dict[str, Alias]:
    """`[pci] alias` values → {name: Alias}."""
    out: dict[str, Alias] = {}
    for obj in _json_objects(values):
        name = str(obj.get("name") or "")
        if not name:
            raise InvalidPciConfig(f"PCI alias without a name: {obj}")
        dev_type = str(obj.get("device_type") or "type-PCI")
        if dev_type not in ("type-PCI", "type-PF", "type-VF"):
            raise InvalidPciConfig(f"invalid device_type {dev_type!r} in alias {name}")
        out[name] = Alias(
            name,
            _hex(obj.get("vendor_id"), "vendor_id"),
            _hex(obj.get("product_id"), "product_id"),
            dev_type,
            str(obj.get("numa_policy") or "legacy"),
        )
    return out


def parse_whitelist(values: str | Iterable[str]) -> list[WhitelistEntry]:
    """`[pci] passthrough_whitelist` values → entries (vendor/product and/or address)."""
    out = []
    for obj in _json_objects(values):
        addr = obj.get("address")
        if addr is not None and not _ADDRESS.match(str(addr)):
            raise InvalidPciConfig(f"invalid PCI address {addr!r}")
        vendor = _hex(obj["vendor_id"], "vendor_id") if obj.get("vendor_id") else None
        product = _hex(obj["product_id"], "product_id") if obj.get("product_id") else None
        if vendor is None and product is None and addr is None:
            raise InvalidPciConfig(f"whitelist entry matches nothing: {obj}")
        out.append(WhitelistEntry(vendor, product, str(addr) if addr else None))
    return out


def parse_node_device(xml: str) -> dict[str, Any] | None:
    """One `virNodeDeviceGetXMLDesc` document → a pci_devices row's fields, or None
    when it is not a PCI device."""
    root = ET.fromstring(xml)
    cap = root.find("capability[@type='pci']")
    if cap is None:
        return None

    def num(tag: str) -> int:
        el = cap.find(tag)
        return int((el.text or "0").strip(), 0) if el is not None else 0

    vendor = cap.find("vendor")
    product = cap.find("product")
    numa = cap.find("numa")
    dev_type = "type-PCI"
    for sub in cap.findall("capability"):
        if sub.get("type") == "virt_functions" and len(sub):
            dev_type = "type-PF"
        elif sub.get("type") == "phys_function":
            dev_type = "type-VF"
    return {
        "address": f"{num('domain'):04x}:{num('bus'):02x}:{num('slot'):02x}.{num('function'):x}",
        "vendor_id": _hex(vendor.get("id") if vendor is not None else "", "vendor_id"),
        "product_id": _hex(product.get("id") if product is not None else "", "product_id"),
        "dev_type": dev_type,
        "numa_node": int(numa.get("node", "-1")) if numa is not None else None,
        "label": (root.findtext("name") or "").strip() or None,
    }


def whitelisted(
    devices: Iterable[Mapping[str, Any]], whitelist: list[WhitelistEntry]
) -> list[dict[str, Any]]:
    """The devices some whitelist entry allows (none when the whitelist is empty)."""
    return [dict(d) for d in devices if any(w.matches(d) for w in whitelist)]


def pools(devices: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, str], int]:
    """Free devices per (vendor_id, product_id, dev_type): what the filter looks at."""
    out: dict[tuple[str, str, str], int] = {}
    for d in devices:
        if d.get("status", "available") != "available":
            continue
        key = (d["vendor_id"], d["product_id"], d.get("dev_type") or "type-PCI")
        out[key] = out.get(key, 0) + 1
    return out


def parse_request(value: str | None, aliases: Mapping[str, Alias]) -> list[tuple[Alias, int]]:
    """`pci_passthrough:alias` = "NAME:N[,NAME:N]" → [(alias, count)]."""
    if not value:
        return []
    out = []
    for part in (p.strip() for p in str(value).split(",")):
        name, _, count = part.partition(":")
        name = name.strip()
        if name not in aliases:
            raise InvalidPciRequest(f"PCI alias {name} is not defined")
        try:
            n = int(count or "1")
        except ValueError:
            raise InvalidPciRequest(f"Invalid PCI alias definition: {part}") from None
        if n < 1:
            raise InvalidPciRequest(f"Invalid PCI alias definition: {part}")
        out.append((aliases[name], n))
    return out


def request_fits(
    request: list[tuple[Alias, int]], host_pools: Mapping[tuple[str, str, str], int]
) -> bool:
    """Every alias's count of devices is free on the host (aliases drawing on the same
    pool add up)."""
    need: dict[tuple[str, str, str], int] = {}
    for alias, n in request:
        key = (alias.vendor_id, alias.product_id, alias.device_type)
        need[key] = need.get(key, 0) + n
    return all(host_pools.get(k, 0) >= n for k, n in need.items())
