"""Which version a Compute API response names, as Nova: the one asked for on every answer
of the compute API, errors included; the refused one on a 406; none when the request was
refused before the compute API saw it, or named no readable version. And how the version
headers are read, row by row against Nova's reading of them."""

from __future__ import annotations

import uuid

import pytest

from stackbox.compute.api.microversion import VARY
from tests.compute.api.conftest import API, Cloud, call, new_flavor, unique


def _names(r: object, version: str) -> None:
    headers = r.headers  # type: ignore[attr-defined]
    assert headers["OpenStack-API-Version"] == f"compute {version}"
    assert headers["X-OpenStack-Nova-API-Version"] == version
    assert headers["Vary"] == VARY


def _names_none(r: object) -> None:
    headers = r.headers  # type: ignore[attr-defined]
    assert "OpenStack-API-Version" not in headers
    assert "X-OpenStack-Nova-API-Version" not in headers
    assert "Vary" not in headers


@pytest.mark.parametrize(("asked", "named"), [("2.53", "2.53"), ("latest", "2.100")])
def test_errors_name_the_version_asked_for(
    cloud: Cloud, admin: dict, demo: dict, asked: str, named: str
) -> None:
    taken = new_flavor(cloud, admin, asked)["name"]
    flavor = {"flavor": {"name": unique("f"), "ram": 256, "vcpus": 1, "disk": 1}}
    answers = {
        404: call(cloud, "GET", f"/servers/{uuid.uuid4()}", admin, asked),
        400: call(cloud, "POST", "/flavors", admin, asked, json={"flavor": {"name": 5}}),
        409: call(
            cloud,
            "POST",
            "/flavors",
            admin,
            asked,
            json={"flavor": {**flavor["flavor"], "name": taken}},
        ),
        403: call(cloud, "POST", "/flavors", demo, asked, json=flavor),
    }
    for status, r in answers.items():
        assert r.status_code == status, r.text
        _names(r, named)


def test_a_bad_body_names_the_version_too(cloud: Cloud, admin: dict) -> None:
    r = call(cloud, "POST", "/flavors", admin, "2.53", content=b"{not json")
    assert r.status_code == 400
    _names(r, "2.53")


def test_out_of_range_is_406_naming_the_version_refused(cloud: Cloud, admin: dict) -> None:
    r = call(cloud, "GET", "/flavors", admin, "2.999")
    assert r.status_code == 406
    assert r.json() == {
        "computeFault": {
            "code": 406,
            "message": "Version 2.999 is not supported by the API. "
            "Minimum is 2.1 and maximum is 2.100.",
        }
    }
    _names(r, "2.999")
    # Nova reads the version before the body: the 406 wins over a malformed one.
    r = call(cloud, "POST", "/flavors", admin, "2.999", content=b"{not json")
    assert r.status_code == 406


def test_success_names_the_version(cloud: Cloud, admin: dict) -> None:
    r = call(cloud, "GET", "/flavors/detail", admin, "2.53")
    assert r.status_code == 200
    _names(r, "2.53")
    assert "description" not in r.json()["flavors"][0]  # 2.55 adds it
    r = call(cloud, "GET", "/flavors/detail", admin)
    assert r.status_code == 200
    _names(r, "2.1")


def test_refused_before_the_compute_api_names_no_version(cloud: Cloud, admin: dict) -> None:
    # keystonemiddleware refuses a bad token before Nova reads the version.
    for headers in ({}, {"X-Auth-Token": "forged"}):
        r = call(cloud, "GET", "/flavors", headers, "2.53")
        assert r.status_code == 401
        _names_none(r)
    # No route: Nova's router answers before its wsgi layer reads the version.
    r = call(cloud, "GET", "/no-such-thing", admin, "2.53")
    assert r.status_code == 404
    _names_none(r)
    # The version list ignores the version headers altogether.
    r = cloud.client.get("/compute/", headers={"OpenStack-API-Version": "compute 2.999"})
    assert r.status_code == 200
    _names_none(r)


def test_an_unreadable_version_is_400_naming_none(cloud: Cloud, admin: dict) -> None:
    r = call(cloud, "GET", "/flavors", admin, "2.01")
    assert r.status_code == 400
    assert r.json()["badRequest"]["message"] == (
        "API Version String 2.01 is of invalid format. Must be of format MajorNum.MinorNum."
    )
    _names_none(r)


STD = "OpenStack-API-Version"
LEGACY = "X-OpenStack-Nova-API-Version"

# (headers sent, status, version named or None), each row as Nova answers it.
TABLE: list[tuple[list[tuple[str, str]], int, str | None]] = [
    ([], 200, "2.1"),
    ([(STD, "compute 2.53")], 200, "2.53"),
    ([(STD, "COMPUTE 2.5")], 200, "2.5"),
    ([(STD, "Compute 2.5")], 200, "2.5"),
    ([(STD, "  compute   2.5  ")], 200, "2.5"),
    ([(STD, "compute 2.1, volume 3.0")], 200, "2.1"),
    ([(STD, "volume 3.0,compute 2.60")], 200, "2.60"),
    ([(STD, "compute 2.10, compute 2.20")], 200, "2.20"),  # the last one counts
    ([(STD, "compute 2.10"), (STD, "compute 2.20")], 200, "2.20"),  # repeated header
    ([(STD, "compute 2.5,")], 200, "2.5"),
    ([(STD, "compute latest")], 200, "2.100"),
    ([(STD, "compute 2.0")], 406, "2.0"),
    ([(STD, "compute 1.0")], 406, "1.0"),
    ([(STD, "compute 3.0")], 406, "3.0"),
    ([(STD, "compute LATEST")], 400, None),  # 'latest' is matched exactly
    ([(STD, "compute 2.01")], 400, None),
    ([(STD, "compute 02.1")], 400, None),
    ([(STD, "compute 0.1")], 400, None),
    ([(STD, "compute 2")], 400, None),
    ([(STD, "compute 2.")], 400, None),
    ([(STD, "compute 2.5.1")], 400, None),
    ([(STD, "compute 2.5 beta")], 400, None),
    ([(STD, "compute v2.5")], 400, None),
    ([(STD, "")], 200, "2.1"),
    ([(STD, "compute")], 200, "2.1"),  # no version: the entry is skipped
    ([(STD, "compute2.5")], 200, "2.1"),
    ([(STD, "volume 3.0")], 200, "2.1"),
    ([(STD, "volume 3.0"), (LEGACY, "2.30")], 200, "2.30"),
    ([(STD, "compute 2.40"), (LEGACY, "2.30")], 200, "2.40"),
    ([(LEGACY, "2.30")], 200, "2.30"),
    ([(LEGACY, "2.10, 2.20")], 200, "2.20"),
    ([(LEGACY, "latest")], 200, "2.100"),
    ([(LEGACY, "2.999")], 406, "2.999"),
    ([(LEGACY, "")], 400, None),  # present but empty: Nova tries to parse ''
    ([(LEGACY, "compute 2.5")], 400, None),
]


@pytest.mark.parametrize(("sent", "status", "named"), TABLE)
def test_version_headers_are_read_as_nova_reads_them(
    cloud: Cloud, admin: dict, sent: list[tuple[str, str]], status: int, named: str | None
) -> None:
    headers = [("X-Auth-Token", admin["X-Auth-Token"]), *sent]
    r = cloud.client.get(API + "/flavors", headers=headers)
    assert r.status_code == status, r.text
    if named is None:
        _names_none(r)
    else:
        _names(r, named)
