"""compute/pci.py: Nova's alias / whitelist JSON strings, PCI node-device XML, pools and
`pci_passthrough:alias` requests."""

from __future__ import annotations

import pytest

from stackbox.compute import pci

NODEDEV = """<device><name>pci_0000_04_10_1</name><parent>pci_0000_00_1c_0</parent>
  <capability type='pci'><class>0x020000</class><domain>0</domain><bus>4</bus>
    <slot>16</slot><function>1</function>
    <product id='0x154c'>X710 Virtual Function</product>
    <vendor id='0x8086'>Intel Corporation</vendor>
    <capability type='phys_function'><address domain='0x0000' bus='0x04' slot='0x00'
      function='0x0'/></capability>
    <numa node='1'/></capability></device>"""
GPU = """<device><name>pci_0000_81_00_0</name><capability type='pci'><domain>0</domain>
  <bus>129</bus><slot>0</slot><function>0</function><product id='0x1eb8'/>
  <vendor id='0x10de'/></capability></device>"""


def test_aliases_parse_like_nova() -> None:
    aliases = pci.parse_aliases(
        [
            '{"name": "a1", "vendor_id": "8086", "product_id": "154d"}',
            '[{"name": "gpu", "vendor_id": "10DE", "product_id": "1eb8",'
            ' "device_type": "type-PF"}]',
        ]
    )
    assert aliases["a1"] == pci.Alias("a1", "8086", "154d")
    assert aliases["gpu"].vendor_id == "10de" and aliases["gpu"].device_type == "type-PF"


@pytest.mark.parametrize(
    "bad",
    [
        '{"vendor_id": "8086"}',
        "not json",
        '{"name": "x", "vendor_id": "80", "product_id": "1"}',
        '{"name": "x", "vendor_id": "8086", "product_id": "154d", "device_type": "type-XYZ"}',
    ],
)
def test_bad_aliases_are_config_errors(bad: str) -> None:
    with pytest.raises(pci.InvalidPciConfig):
        pci.parse_aliases([bad])


def test_node_device_xml_becomes_a_device_row() -> None:
    dev = pci.parse_node_device(NODEDEV)
    assert dev == {
        "address": "0000:04:10.1",
        "vendor_id": "8086",
        "product_id": "154c",
        "dev_type": "type-VF",
        "numa_node": 1,
        "label": "pci_0000_04_10_1",
    }
    gpu = pci.parse_node_device(GPU)
    assert gpu is not None and gpu["address"] == "0000:81:00.0" and gpu["numa_node"] is None
    assert (
        pci.parse_node_device("<device><name>usb</name><capability type='usb'/></device>") is None
    )


def test_whitelist_by_ids_and_by_address() -> None:
    devs = [pci.parse_node_device(x) for x in (NODEDEV, GPU)]
    by_id = pci.parse_whitelist(['{"vendor_id": "10de", "product_id": "1eb8"}'])
    assert [d["address"] for d in pci.whitelisted(devs, by_id)] == ["0000:81:00.0"]  # type: ignore[arg-type]
    by_addr = pci.parse_whitelist(['{"address": "0000:04:*.*"}'])
    assert [d["address"] for d in pci.whitelisted(devs, by_addr)] == ["0000:04:10.1"]  # type: ignore[arg-type]
    assert pci.whitelisted(devs, []) == []  # type: ignore[arg-type]
    with pytest.raises(pci.InvalidPciConfig):
        pci.parse_whitelist(['{"address": "nonsense"}'])


def test_requests_and_pools() -> None:
    aliases = pci.parse_aliases(['{"name": "gpu", "vendor_id": "10de", "product_id": "1eb8"}'])
    request = pci.parse_request("gpu:2", aliases)
    assert request == [(aliases["gpu"], 2)]
    devices = [{"vendor_id": "10de", "product_id": "1eb8", "status": "available"}] * 2
    devices.append({"vendor_id": "10de", "product_id": "1eb8", "status": "allocated"})
    pools = pci.pools(devices)
    assert pools == {("10de", "1eb8", "type-PCI"): 2}
    assert pci.request_fits(request, pools)
    assert not pci.request_fits(pci.parse_request("gpu:3", aliases), pools)
    with pytest.raises(pci.InvalidPciRequest, match="not defined"):
        pci.parse_request("nic:1", aliases)
    with pytest.raises(pci.InvalidPciRequest):
        pci.parse_request("gpu:zero", aliases)
