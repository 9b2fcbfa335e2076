"""Flavors: seed flavors, view shapes per microversion, filters, sorting, paging,
create/update/delete validation and policy, private-flavor visibility."""

from __future__ import annotations

import pytest

from tests.compute.api.conftest import Cloud, call, new_flavor, unique

BASE = "http://127.0.0.1:18080/compute"
SEEDS = {
    "1": ("m1.tiny", 512, 1, 1),
    "2": ("m1.small", 2048, 20, 1),
    "3": ("m1.medium", 4096, 40, 2),
    "4": ("m1.large", 8192, 80, 4),
    "5": ("m1.xlarge", 16384, 160, 8),
}
V21_KEYS = {
    "id", "name", "ram", "disk", "swap", "OS-FLV-EXT-DATA:ephemeral", "OS-FLV-DISABLED:disabled",
    "vcpus", "os-flavor-access:is_public", "rxtx_factor", "links",
}  # fmt: skip


def test_seed_flavors_are_there_for_everyone(cloud: Cloud, demo: dict) -> None:
    r = call(cloud, "GET", "/flavors/detail", demo)
    assert r.status_code == 200, r.text
    by_id = {f["id"]: f for f in r.json()["flavors"]}
    for fid, (name, ram, disk, vcpus) in SEEDS.items():
        f = by_id[fid]
        assert (f["name"], f["ram"], f["disk"], f["vcpus"]) == (name, ram, disk, vcpus)
        assert f["os-flavor-access:is_public"] is True


def test_ensure_default_flavors_is_idempotent(cloud: Cloud, admin: dict) -> None:
    from stackbox.compute.bootstrap import ensure_default_flavors

    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        ensure_default_flavors(s)
        ensure_default_flavors(s)
    r = call(cloud, "GET", "/flavors", admin, params={"is_public": "None"})
    names = [f["name"] for f in r.json()["flavors"]]
    assert names.count("m1.tiny") == 1


def test_show_at_2_1_matches_nova_sample(cloud: Cloud, demo: dict) -> None:
    r = call(cloud, "GET", "/flavors/1", demo)
    assert r.status_code == 200
    f = r.json()["flavor"]
    assert set(f) == V21_KEYS
    assert f["swap"] == ""
    assert f["rxtx_factor"] == 1.0
    assert f["OS-FLV-DISABLED:disabled"] is False
    assert f["links"] == [
        {"rel": "self", "href": f"{BASE}/v2.1/flavors/1"},
        {"rel": "bookmark", "href": f"{BASE}/flavors/1"},
    ]


@pytest.mark.parametrize(
    ("version", "extra", "swap"),
    [
        ("2.54", set(), ""),
        ("2.55", {"description"}, ""),
        ("2.61", {"description", "extra_specs"}, ""),
        ("2.75", {"description", "extra_specs"}, 0),
        ("latest", {"description", "extra_specs"}, 0),
    ],
)
def test_show_shape_by_microversion(
    cloud: Cloud, admin: dict, version: str, extra: set, swap: object
) -> None:
    r = call(cloud, "GET", "/flavors/2", admin, version)
    f = r.json()["flavor"]
    assert set(f) == V21_KEYS | extra
    assert f["swap"] == swap
    if "description" in extra:
        assert f["description"] is None


def test_brief_list_shape(cloud: Cloud, admin: dict) -> None:
    f = call(cloud, "GET", "/flavors", admin).json()["flavors"][0]
    assert set(f) == {"id", "name", "links"}
    f = call(cloud, "GET", "/flavors", admin, "2.55").json()["flavors"][0]
    assert set(f) == {"id", "name", "links", "description"}


def test_unknown_flavor_is_404_in_nova_shape(cloud: Cloud, demo: dict) -> None:
    r = call(cloud, "GET", "/flavors/no-such", demo)
    assert r.status_code == 404
    assert r.json() == {
        "itemNotFound": {"code": 404, "message": "Flavor no-such could not be found."}
    }


def test_filters_min_ram_and_min_disk(cloud: Cloud, demo: dict) -> None:
    r = call(cloud, "GET", "/flavors", demo, params={"minRam": 4096, "minDisk": 80})
    ids = {f["id"] for f in r.json()["flavors"]}
    assert {"4", "5"} <= ids and not ids & {"1", "2", "3"}
    r = call(cloud, "GET", "/flavors", demo, params={"minRam": "lots"})
    assert r.status_code == 400
    assert r.json()["badRequest"]["message"] == "Invalid minRam filter [lots]"


def test_sorting_and_bad_sort_key(cloud: Cloud, demo: dict) -> None:
    q = {"sort_key": "memory_mb", "sort_dir": "desc", "minRam": 2048}
    rams = [
        f["ram"] for f in call(cloud, "GET", "/flavors/detail", demo, params=q).json()["flavors"]
    ]
    assert rams == sorted(rams, reverse=True) and rams[0] >= 16384
    assert call(cloud, "GET", "/flavors", demo, params={"sort_key": "color"}).status_code == 400
    assert call(cloud, "GET", "/flavors", demo, params={"sort_dir": "up"}).status_code == 400


def test_paging_with_next_link(cloud: Cloud, admin: dict, demo: dict) -> None:
    # RAM sizes no other test uses, so the page is ours alone.
    big = 1_900_000_000
    ids = [new_flavor(cloud, admin, ram=big + i)["id"] for i in (1, 2, 3)]
    q = {"limit": 2, "minRam": big, "sort_key": "memory_mb"}
    r = call(cloud, "GET", "/flavors/detail", demo, params=q)
    body = r.json()
    assert [f["id"] for f in body["flavors"]] == ids[:2]
    (link,) = body["flavors_links"]
    assert link["rel"] == "next"
    assert link["href"].startswith(f"{BASE}/v2.1/flavors/detail?")
    assert f"marker={ids[1]}" in link["href"] and f"minRam={big}" in link["href"]
    r2 = call(cloud, "GET", "/flavors/detail", demo, params={**q, "marker": ids[1]})
    assert [f["id"] for f in r2.json()["flavors"]] == ids[2:]
    assert "flavors_links" not in r2.json()
    bad = call(cloud, "GET", "/flavors", demo, params={"marker": "nope"})
    assert bad.status_code == 400
    assert bad.json()["badRequest"]["message"] == "marker [nope] not found"
    assert call(cloud, "GET", "/flavors", demo, params={"limit": "-1"}).status_code == 400
    for fid in ids:
        call(cloud, "DELETE", f"/flavors/{fid}", admin)


def test_unknown_query_parameter_is_400_from_2_75(cloud: Cloud, demo: dict) -> None:
    assert call(cloud, "GET", "/flavors", demo, "2.74", params={"x": 1}).status_code == 200
    r = call(cloud, "GET", "/flavors", demo, "2.75", params={"x": 1})
    assert r.status_code == 400
    assert "'x' was unexpected" in r.json()["badRequest"]["message"]


def test_create_full_body_and_show(cloud: Cloud, admin: dict) -> None:
    name = unique("full")
    body = {
        "name": name,
        "ram": "1024",
        "vcpus": 2,
        "disk": 10,
        "id": unique("id"),
        "OS-FLV-EXT-DATA:ephemeral": 5,
        "swap": 512,
        "rxtx_factor": 2.5,
        "os-flavor-access:is_public": "false",
        "description": "a test flavor",
    }
    f = new_flavor(cloud, admin, "2.61", **body)
    assert f["id"] == body["id"] and f["name"] == name
    assert (f["ram"], f["vcpus"], f["disk"]) == (1024, 2, 10)
    assert f["OS-FLV-EXT-DATA:ephemeral"] == 5 and f["swap"] == 512
    assert f["rxtx_factor"] == 2.5
    assert f["os-flavor-access:is_public"] is False
    assert f["description"] == "a test flavor"
    assert f["extra_specs"] == {}
    shown = call(cloud, "GET", f"/flavors/{f['id']}", admin, "2.61").json()["flavor"]
    assert shown == f


def test_create_without_id_gets_a_uuid(cloud: Cloud, admin: dict) -> None:
    f = new_flavor(cloud, admin)
    assert len(f["id"]) == 36 and f["id"].count("-") == 4
    assert set(f) == V21_KEYS


@pytest.mark.parametrize(
    "bad",
    [
        {"ram": 0},
        {"ram": -1},
        {"vcpus": "x"},
        {"disk": -1},
        {"swap": 1.5},
        {"rxtx_factor": 0},
        {"name": " lead"},
        {"name": ""},
        {"id": " spaced "},
        {"id": "a/b"},
        {"os-flavor-access:is_public": "maybe"},
        {"color": "red"},
        {"description": "only from 2.55"},
        {"ram": 2**31},
    ],
)
def test_create_rejects_bad_values(cloud: Cloud, admin: dict, bad: dict) -> None:
    body = {"name": unique("bad"), "ram": 64, "vcpus": 1, "disk": 1, **bad}
    r = call(cloud, "POST", "/flavors", admin, json={"flavor": body})
    assert r.status_code == 400, r.text
    assert r.json()["badRequest"]["code"] == 400


def test_create_requires_fields(cloud: Cloud, admin: dict) -> None:
    r = call(cloud, "POST", "/flavors", admin, json={"flavor": {"name": unique("x")}})
    assert r.status_code == 400
    assert call(cloud, "POST", "/flavors", admin, json={}).status_code == 400


def test_duplicate_name_or_id_is_409(cloud: Cloud, admin: dict) -> None:
    f = new_flavor(cloud, admin, id=unique("dup"))
    body = {"name": f["name"], "ram": 64, "vcpus": 1, "disk": 1}
    r = call(cloud, "POST", "/flavors", admin, json={"flavor": body})
    assert r.status_code == 409
    assert r.json()["conflictingRequest"]["message"] == (
        f"Flavor with name {f['name']} already exists."
    )
    body = {"name": unique("other"), "ram": 64, "vcpus": 1, "disk": 1, "id": f["id"]}
    r = call(cloud, "POST", "/flavors", admin, json={"flavor": body})
    assert r.status_code == 409
    assert r.json()["conflictingRequest"]["message"] == f"Flavor with ID {f['id']} already exists."


def test_demo_cannot_manage_flavors(cloud: Cloud, admin: dict, demo: dict) -> None:
    body = {"flavor": {"name": unique("demo"), "ram": 64, "vcpus": 1, "disk": 1}}
    r = call(cloud, "POST", "/flavors", demo, json=body)
    assert r.status_code == 403
    assert r.json() == {
        "forbidden": {
            "code": 403,
            "message": "Policy doesn't allow os_compute_api:os-flavor-manage:create "
            "to be performed.",
        }
    }
    assert call(cloud, "DELETE", "/flavors/1", demo).status_code == 403
    r = call(cloud, "PUT", "/flavors/1", demo, "2.55", json={"flavor": {"description": "x"}})
    assert r.status_code == 403


def test_update_description_from_2_55(cloud: Cloud, admin: dict) -> None:
    f = new_flavor(cloud, admin)
    body = {"flavor": {"description": "new words"}}
    assert call(cloud, "PUT", f"/flavors/{f['id']}", admin, json=body).status_code == 404
    r = call(cloud, "PUT", f"/flavors/{f['id']}", admin, "2.55", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["flavor"]["description"] == "new words"
    r = call(cloud, "PUT", f"/flavors/{f['id']}", admin, "2.55", json={"flavor": {"ram": 1}})
    assert r.status_code == 400
    r = call(cloud, "PUT", "/flavors/nope", admin, "2.55", json=body)
    assert r.status_code == 404


def test_delete_is_202_then_gone(cloud: Cloud, admin: dict) -> None:
    f = new_flavor(cloud, admin)
    r = call(cloud, "DELETE", f"/flavors/{f['id']}", admin)
    assert r.status_code == 202 and r.content == b""
    assert call(cloud, "GET", f"/flavors/{f['id']}", admin).status_code == 404
    assert call(cloud, "DELETE", f"/flavors/{f['id']}", admin).status_code == 404


def test_private_flavor_visibility(cloud: Cloud, admin: dict, demo: dict) -> None:
    f = new_flavor(cloud, admin, **{"os-flavor-access:is_public": False})
    # Nova does not grant the creating project access: only is_public=None/false list it.
    assert call(cloud, "GET", f"/flavors/{f['id']}", demo).status_code == 404

    def ids(headers: dict, **query: str) -> set[str]:
        r = call(cloud, "GET", "/flavors", headers, params=query)
        return {x["id"] for x in r.json()["flavors"]}

    assert f["id"] not in ids(demo)
    assert f["id"] not in ids(demo, is_public="None")  # non-admins cannot widen the list
    assert f["id"] not in ids(admin)
    assert f["id"] in ids(admin, is_public="None")
    assert f["id"] in ids(admin, is_public="false")
    assert "1" not in ids(admin, is_public="false")
    assert call(cloud, "GET", f"/flavors/{f['id']}", admin).status_code == 200
    r = call(cloud, "GET", "/flavors", admin, params={"is_public": "perhaps"})
    assert r.status_code == 400
