"""Flavor extra specs: set, read, update one, delete; key syntax and length limits;
extra_specs in flavor views from 2.61."""

from __future__ import annotations

import pytest

from tests.compute.api.conftest import Cloud, call, new_flavor


def _specs(fid: str, key: str = "") -> str:
    return f"/flavors/{fid}/os-extra_specs" + (f"/{key}" if key else "")


def test_set_show_update_delete(cloud: Cloud, admin: dict, demo: dict) -> None:
    fid = new_flavor(cloud, admin)["id"]
    assert call(cloud, "GET", _specs(fid), admin).json() == {"extra_specs": {}}
    body = {"extra_specs": {"hw:cpu_cores": "1", "quota:disk_read_iops_sec": 100}}
    r = call(cloud, "POST", _specs(fid), admin, json=body)
    assert r.status_code == 200 and r.json() == body
    want = {"hw:cpu_cores": "1", "quota:disk_read_iops_sec": "100"}
    assert call(cloud, "GET", _specs(fid), admin).json() == {"extra_specs": want}
    assert call(cloud, "GET", _specs(fid), demo).json() == {"extra_specs": want}
    r = call(cloud, "GET", _specs(fid, "hw:cpu_cores"), demo)
    assert r.status_code == 200 and r.json() == {"hw:cpu_cores": "1"}

    r = call(cloud, "PUT", _specs(fid, "hw:cpu_cores"), admin, json={"hw:cpu_cores": "2"})
    assert r.status_code == 200 and r.json() == {"hw:cpu_cores": "2"}
    # POST merges: existing keys are updated, others kept
    call(cloud, "POST", _specs(fid), admin, json={"extra_specs": {"hw:mem_page_size": "large"}})
    got = call(cloud, "GET", _specs(fid), admin).json()["extra_specs"]
    assert got == {**want, "hw:cpu_cores": "2", "hw:mem_page_size": "large"}

    r = call(cloud, "DELETE", _specs(fid, "hw:cpu_cores"), admin)
    assert r.status_code == 200
    r = call(cloud, "GET", _specs(fid, "hw:cpu_cores"), admin)
    assert r.status_code == 404
    assert r.json()["itemNotFound"]["message"] == (
        f"Flavor {fid} has no extra specs with key hw:cpu_cores."
    )
    assert call(cloud, "DELETE", _specs(fid, "hw:cpu_cores"), admin).status_code == 404


def test_put_body_must_name_the_url_key(cloud: Cloud, admin: dict) -> None:
    fid = new_flavor(cloud, admin)["id"]
    r = call(cloud, "PUT", _specs(fid, "a"), admin, json={"b": "1"})
    assert r.status_code == 400
    assert r.json()["badRequest"]["message"] == "Request body and URI mismatch"
    assert call(cloud, "PUT", _specs(fid, "a"), admin, json={"a": "1", "b": "2"}).status_code == 400
    assert call(cloud, "PUT", _specs(fid, "a"), admin, json={}).status_code == 400


@pytest.mark.parametrize(
    "specs",
    [
        {"bad/key": "1"},
        {"bad!key": "1"},
        {"": "1"},
        {"k" * 256: "1"},
        {"k": "v" * 256},
        {"k": 10**300},
        {"k": None},
        {"k": True},
        {"k": ["list"]},
    ],
)
def test_bad_keys_and_values_are_400(cloud: Cloud, admin: dict, specs: dict) -> None:
    fid = new_flavor(cloud, admin)["id"]
    r = call(cloud, "POST", _specs(fid), admin, json={"extra_specs": specs})
    assert r.status_code == 400, r.text
    assert r.json()["badRequest"]["code"] == 400


def test_demo_reads_but_cannot_write(cloud: Cloud, admin: dict, demo: dict) -> None:
    fid = new_flavor(cloud, admin)["id"]
    r = call(cloud, "POST", _specs(fid), demo, json={"extra_specs": {"a": "1"}})
    assert r.status_code == 403
    assert call(cloud, "PUT", _specs(fid, "a"), demo, json={"a": "1"}).status_code == 403
    assert call(cloud, "DELETE", _specs(fid, "a"), demo).status_code == 403


def test_private_flavor_specs_are_hidden(cloud: Cloud, admin: dict, demo: dict) -> None:
    fid = new_flavor(cloud, admin, **{"os-flavor-access:is_public": False})["id"]
    assert call(cloud, "GET", _specs(fid), demo).status_code == 404
    assert call(cloud, "GET", _specs("no-such"), admin).status_code == 404


def test_flavor_views_carry_specs_from_2_61(cloud: Cloud, admin: dict, demo: dict) -> None:
    fid = new_flavor(cloud, admin)["id"]
    call(cloud, "POST", _specs(fid), admin, json={"extra_specs": {"hw:cpu_policy": "shared"}})
    old = call(cloud, "GET", f"/flavors/{fid}", demo, "2.60").json()["flavor"]
    assert "extra_specs" not in old
    new = call(cloud, "GET", f"/flavors/{fid}", demo, "2.61").json()["flavor"]
    assert new["extra_specs"] == {"hw:cpu_policy": "shared"}
    listed = call(cloud, "GET", "/flavors/detail", demo, "2.61").json()["flavors"]
    assert next(f for f in listed if f["id"] == fid)["extra_specs"] == {"hw:cpu_policy": "shared"}
