"""GET /extensions and /extensions/{alias}: Nova's fixed extension records (what
Tempest's test_extensions looks for: 'Hosts' by name, 'os-consoles' by alias)."""

from __future__ import annotations

from tests.compute.api.conftest import Cloud, call

FIELDS = {"alias", "description", "links", "name", "namespace", "updated"}


def test_list_has_nova_records(cloud: Cloud, demo: dict) -> None:
    r = call(cloud, "GET", "/extensions", demo)
    assert r.status_code == 200, r.text
    records = r.json()["extensions"]
    assert len(records) == 99
    assert all(set(rec) == FIELDS and rec["links"] == [] for rec in records)
    by_alias = {rec["alias"]: rec for rec in records}
    assert by_alias["os-hosts"]["name"] == "Hosts"
    assert by_alias["OS-DCF"]["updated"] == "2014-12-03T00:00:00Z"
    assert [rec["alias"] for rec in records] == sorted(by_alias)
    assert "OS-EXT-VIF-NET" not in by_alias


def test_show_one_and_404_for_unknown(cloud: Cloud, demo: dict) -> None:
    r = call(cloud, "GET", "/extensions/os-consoles", demo)
    assert r.status_code == 200, r.text
    assert r.json()["extension"]["alias"] == "os-consoles"
    r = call(cloud, "GET", "/extensions/os-nothing", demo)
    assert r.status_code == 404
    assert r.json()["itemNotFound"]["code"] == 404
    assert cloud.client.get("/compute/v2.1/extensions").status_code == 401


def test_legacy_v2_lists_v2_only_records_too(cloud: Cloud, demo: dict) -> None:
    r = cloud.client.get("/compute/v2/extensions", headers=demo)
    aliases = [rec["alias"] for rec in r.json()["extensions"]]
    assert len(aliases) == 100 and "OS-EXT-VIF-NET" in aliases
    r = cloud.client.get("/compute/v2/extensions/OS-EXT-VIF-NET", headers=demo)
    assert r.json()["extension"]["name"] == "ExtendedVIFNet"
