"""GET /v2/images: filters, sorting, pagination with first/next links."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.image.conftest import Cloud, create, unique, upload


def _list(cloud: Cloud, headers: dict, query: str = "") -> dict:
    r = cloud.client.get(f"/image/v2/images{query}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _names(body: dict) -> list[str]:
    return [i["name"] for i in body["images"]]


def test_filters(cloud: Cloud, admin: dict) -> None:
    tag = unique("t")
    a = create(cloud, admin, name=unique("a"), tags=[tag, "x"], flavor_hint="big")
    b = create(cloud, admin, name=unique("b"), tags=[tag], disk_format="qcow2", os_hidden=True)
    c = create(cloud, admin, name=unique("c"), tags=[tag], protected=True)
    assert upload(cloud, admin, a["id"], b"12345").status_code == 204
    q = f"?tag={tag}"
    assert set(_names(_list(cloud, admin, q))) == {a["name"], c["name"]}  # b is hidden
    assert _names(_list(cloud, admin, q + "&os_hidden=true")) == [b["name"]]
    assert _names(_list(cloud, admin, q + "&tag=x")) == [a["name"]]
    assert _names(_list(cloud, admin, f"?name={a['name']}")) == [a["name"]]
    assert _names(_list(cloud, admin, q + "&status=active")) == [a["name"]]
    assert _names(_list(cloud, admin, q + "&flavor_hint=big")) == [a["name"]]
    assert _names(_list(cloud, admin, q + "&size_min=5&size_max=5")) == [a["name"]]
    assert _names(_list(cloud, admin, q + "&size_min=6")) == []
    assert _names(_list(cloud, admin, q + "&protected=true")) == [c["name"]]
    assert _names(_list(cloud, admin, q + "&os_hidden=true&disk_format=qcow2")) == [b["name"]]
    ids = f"in:{a['id']},{c['id']}"
    assert set(_names(_list(cloud, admin, f"?id={ids}"))) == {a["name"], c["name"]}
    assert _list(cloud, admin, q + "&created_at=gte:2000-01-01T00:00:00Z")["images"]
    assert not _list(cloud, admin, q + "&created_at=lt:2000-01-01T00:00:00Z")["images"]


def test_min_ram_and_min_disk_are_columns(cloud: Cloud, admin: dict) -> None:
    """As in Glance: compared with the image's own attributes (==), not taken for extra
    properties of that name."""
    tag = unique("m")
    a = create(cloud, admin, name=unique("a"), tags=[tag], min_ram=512, min_disk=2)
    create(cloud, admin, name=unique("b"), tags=[tag], min_ram=1024)
    q = f"?tag={tag}"
    assert _names(_list(cloud, admin, q + "&min_ram=512")) == [a["name"]]
    assert _names(_list(cloud, admin, q + "&min_disk=2")) == [a["name"]]
    assert _names(_list(cloud, admin, q + "&min_ram=256")) == []
    r = cloud.client.get(f"/image/v2/images{q}&min_ram=big", headers=admin)
    assert r.status_code == 400


def test_bad_parameters(cloud: Cloud, admin: dict) -> None:
    for query in (
        "?limit=x",
        "?limit=-1",
        "?size_min=big",
        "?sort_key=nope",
        "?sort_dir=up",
        "?sort=name:sideways",
        "?sort=name&sort_key=id",
        "?visibility=everyone",
        "?member_status=maybe",
        "?protected=perhaps",
        "?created_at=soon:2020-01-01",
        f"?marker={'0' * 8}-0000-0000-0000-{'0' * 12}",
    ):
        r = cloud.client.get(f"/image/v2/images{query}", headers=admin)
        assert r.status_code == 400, query


def test_sort_and_pagination(cloud: Cloud, admin: dict) -> None:
    tag = unique("page")
    names = [f"{tag}-{i}" for i in (3, 1, 4, 0, 2)]
    for n in names:
        create(cloud, admin, name=n, tags=[tag], min_ram=int(n[-1]) % 2)
    body = _list(cloud, admin, f"?tag={tag}&sort_key=name&sort_dir=asc")
    assert _names(body) == sorted(names)
    assert body["first"] == f"/v2/images?tag={tag}&sort_key=name&sort_dir=asc"
    assert body["schema"] == "/v2/schemas/images" and "next" not in body
    body = _list(cloud, admin, f"?tag={tag}&sort=min_ram:desc,name:asc")
    assert _names(body) == [f"{tag}-{i}" for i in (1, 3, 0, 2, 4)]
    default = _names(_list(cloud, admin, f"?tag={tag}"))
    assert default == list(reversed(names))  # newest first

    seen: list[str] = []
    url = f"/v2/images?tag={tag}&limit=2&sort_key=name&sort_dir=asc"
    pages = 0
    while url:
        assert url.startswith("/v2/images?")
        body = _list(cloud, admin, url[len("/v2/images") :])
        seen += _names(body)
        url = body.get("next")
        pages += 1
        if url:
            assert parse_qs(urlsplit(url).query)["marker"] == [body["images"][-1]["id"]]
    assert seen == sorted(names) and pages == 3


def test_limit_zero_and_default(cloud: Cloud, admin: dict) -> None:
    assert _list(cloud, admin, "?limit=0")["images"] == []
    assert len(_list(cloud, admin, "?limit=1")["images"]) == 1


def test_marker_of_filtered_out_image(cloud: Cloud, admin: dict) -> None:
    tag = unique("mk")
    first = create(cloud, admin, name=f"{tag}-a", tags=[tag])
    other = create(cloud, admin, name=f"{tag}-b")
    last = create(cloud, admin, name=f"{tag}-c", tags=[tag])
    q = f"?tag={tag}&sort_key=name&sort_dir=asc&marker={other['id']}"
    assert _names(_list(cloud, admin, q)) == [last["name"]]
    q = f"?tag={tag}&sort_key=name&sort_dir=asc&marker={first['id']}"
    assert _names(_list(cloud, admin, q)) == [last["name"]]
