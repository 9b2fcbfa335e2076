"""The image proxy of the Compute API (GET /images[/detail], GET/DELETE /images/{id}):
Nova's view of what the Image API holds, its filters and paging, the Image service's
visibility and policies, and the 404 from microversion 2.36."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.compute.api.conftest import Cloud, call, unique
from tests.compute.api.images_helpers import ids, new_image
from tests.image.conftest import patch

SHOW_KEYS = {
    "id",
    "name",
    "minRam",
    "minDisk",
    "metadata",
    "created",
    "updated",
    "status",
    "progress",
    "OS-EXT-IMG-SIZE:size",
    "links",
}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_show_active_image(cloud: Cloud, demo: dict) -> None:
    img = new_image(
        cloud, demo, min_ram=64, min_disk=1, os_distro="cirros", auto_disk_config="true"
    )
    r = call(cloud, "GET", f"/images/{img['id']}", demo)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"image"}
    got = body["image"]
    assert set(got) == SHOW_KEYS | {"OS-DCF:diskConfig"}
    assert (got["id"], got["name"], got["status"], got["progress"]) == (
        img["id"],
        img["name"],
        "ACTIVE",
        100,
    )
    assert (got["minRam"], got["minDisk"], got["OS-EXT-IMG-SIZE:size"]) == (64, 1, 1024)
    assert got["metadata"] == {"os_distro": "cirros", "auto_disk_config": "true"}
    assert got["OS-DCF:diskConfig"] == "AUTO"
    assert ISO.match(got["created"]) and ISO.match(got["updated"])
    base = "http://127.0.0.1:18080"
    assert got["links"] == [
        {"rel": "self", "href": f"{base}/compute/v2.1/images/{img['id']}"},
        {"rel": "bookmark", "href": f"{base}/compute/images/{img['id']}"},
        {
            "rel": "alternate",
            "type": "application/vnd.openstack.image",
            "href": f"{base}/image/images/{img['id']}",
        },
    ]


def test_queued_snapshot_is_saving_with_its_server(cloud: Cloud, demo: dict) -> None:
    server = str(uuid.uuid4())
    img = new_image(cloud, demo, data=None, instance_uuid=server, image_type="snapshot")
    got = call(cloud, "GET", f"/images/{img['id']}", demo).json()["image"]
    assert set(got) == SHOW_KEYS | {"server"}
    assert (got["status"], got["progress"], got["OS-EXT-IMG-SIZE:size"]) == ("SAVING", 25, 0)
    base = "http://127.0.0.1:18080/compute"
    assert got["server"] == {
        "id": server,
        "links": [
            {"rel": "self", "href": f"{base}/v2.1/servers/{server}"},
            {"rel": "bookmark", "href": f"{base}/servers/{server}"},
        ],
    }


def test_deactivated_image_is_unknown(cloud: Cloud, admin: dict) -> None:
    img = new_image(cloud, admin)
    r = cloud.client.post(f"/image/v2/images/{img['id']}/actions/deactivate", headers=admin)
    assert r.status_code == 204, r.text
    got = call(cloud, "GET", f"/images/{img['id']}", admin).json()["image"]
    assert (got["status"], got["progress"]) == ("UNKNOWN", 0)


def test_list_and_detail_by_name(cloud: Cloud, demo: dict) -> None:
    img = new_image(cloud, demo)
    new_image(cloud, demo)
    r = call(cloud, "GET", f"/images?name={img['name']}", demo)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "images": [
            {
                "id": img["id"],
                "name": img["name"],
                "links": call(cloud, "GET", f"/images/{img['id']}", demo).json()["image"]["links"],
            }
        ]
    }
    detail = call(cloud, "GET", f"/images/detail?name={img['name']}", demo).json()
    assert set(detail) == {"images"}
    assert [set(i) for i in detail["images"]] == [SHOW_KEYS]


def test_filters(cloud: Cloud, demo: dict) -> None:
    tag = unique("t")
    server = str(uuid.uuid4())
    plain = new_image(cloud, demo, min_ram=128, min_disk=3, flavor_tag=tag)
    snap = new_image(
        cloud, demo, instance_uuid=server, image_type="snapshot", flavor_tag=tag, min_ram=256
    )
    queued = new_image(cloud, demo, data=None, flavor_tag=tag)

    def listed(query: str) -> set[str]:
        r = call(cloud, "GET", f"/images/detail?property-flavor_tag={tag}&{query}", demo)
        assert r.status_code == 200, r.text
        return set(ids(r.json()))

    assert listed("") == {plain["id"], snap["id"], queued["id"]}
    assert listed("status=ACTIVE") == {plain["id"], snap["id"]}
    assert listed("status=saving") == set()  # queued is SAVING in Nova's view, not "saving"
    assert listed("type=snapshot") == {snap["id"]}
    assert listed(f"server={server}") == {snap["id"]}
    href = f"http://127.0.0.1:18080/compute/v2.1/servers/{server}"
    assert listed(f"server={href}") == {snap["id"]}
    assert listed("minRam=128") == {plain["id"]}
    assert listed("minDisk=3") == {plain["id"]}
    created = call(cloud, "GET", f"/images/{queued['id']}", demo).json()["image"]["created"]
    assert queued["id"] in listed(f"changes-since={created}")
    assert listed("changes-since=2999-01-01T00:00:00Z") == set()
    assert call(cloud, "GET", "/images?changes-since=yesterday", demo).status_code == 400
    assert call(cloud, "GET", "/images?minRam=lots", demo).status_code == 400


def test_paging_with_images_links(cloud: Cloud, demo: dict) -> None:
    tag = unique("p")
    made = {new_image(cloud, demo, page_tag=tag)["id"] for _ in range(3)}
    seen: list[str] = []
    path = f"/images?property-page_tag={tag}&limit=2"
    for _ in range(3):
        body = call(cloud, "GET", path, demo).json()
        seen += ids(body)
        if "images_links" not in body:
            break
        (link,) = body["images_links"]
        assert link["rel"] == "next"
        url = urlsplit(link["href"])
        assert url.path == "/compute/v2.1/images"
        assert parse_qs(url.query)["limit"] == ["2"]
        assert parse_qs(url.query)["marker"] == [seen[-1]]
        path = f"/images?{url.query}"
    assert len(seen) == 3 and set(seen) == made
    detail = call(cloud, "GET", f"/images/detail?property-page_tag={tag}&limit=1", demo).json()
    assert len(detail["images"]) == 1
    assert "/compute/v2.1/images/detail?" in detail["images_links"][0]["href"]
    bad = call(cloud, "GET", f"/images?marker={uuid.uuid4()}", demo)
    assert bad.status_code == 400 and "badRequest" in bad.json()
    assert call(cloud, "GET", "/images?limit=x", demo).status_code == 400


def test_what_a_project_sees(cloud: Cloud, admin: dict, demo: dict) -> None:
    private = new_image(cloud, admin, visibility="private")
    public = new_image(cloud, admin, visibility="public")
    community = new_image(cloud, admin, visibility="community")
    r = call(cloud, "GET", f"/images/{private['id']}", demo)
    assert r.status_code == 404
    assert r.json() == {"itemNotFound": {"code": 404, "message": "Image not found."}}
    assert call(cloud, "GET", f"/images/{public['id']}", demo).status_code == 200
    assert call(cloud, "GET", f"/images/{community['id']}", demo).status_code == 200
    listed = set(ids(call(cloud, "GET", "/images", demo).json()))
    assert public["id"] in listed
    assert private["id"] not in listed and community["id"] not in listed  # as Glance lists
    assert private["id"] in set(ids(call(cloud, "GET", "/images", admin).json()))


@pytest.mark.parametrize("bad_id", ["-1", "x" * 37, "not-an-image", str(uuid.uuid4())])
def test_unknown_ids_are_404(cloud: Cloud, demo: dict, bad_id: str) -> None:
    for method in ("GET", "DELETE"):
        r = call(cloud, method, f"/images/{bad_id}", demo)
        assert r.status_code == 404, (method, r.text)
        assert r.json()["itemNotFound"]["message"] == "Image not found."


def test_delete(cloud: Cloud, admin: dict, demo: dict) -> None:
    mine = new_image(cloud, demo)
    r = call(cloud, "DELETE", f"/images/{mine['id']}", demo)
    assert r.status_code == 204 and r.content == b""
    assert call(cloud, "GET", f"/images/{mine['id']}", demo).status_code == 404
    assert cloud.client.get(f"/image/v2/images/{mine['id']}", headers=demo).status_code == 404
    public = new_image(cloud, admin, visibility="public")
    r = call(cloud, "DELETE", f"/images/{public['id']}", demo)
    assert r.status_code == 403
    assert r.json()["forbidden"]["message"] == "You are not allowed to delete the image."
    guarded = new_image(cloud, demo)
    assert (
        patch(
            cloud, demo, guarded["id"], [{"op": "replace", "path": "/protected", "value": True}]
        ).status_code
        == 200
    )
    assert call(cloud, "DELETE", f"/images/{guarded['id']}", demo).status_code == 403
    assert call(cloud, "GET", f"/images/{guarded['id']}", demo).status_code == 200
    saving = new_image(cloud, demo, data=None)
    assert call(cloud, "DELETE", f"/images/{saving['id']}", demo).status_code == 204


def test_gone_from_2_36(cloud: Cloud, demo: dict) -> None:
    img = new_image(cloud, demo)
    assert call(cloud, "GET", f"/images/{img['id']}", demo, "2.35").status_code == 200
    for method, path in (
        ("GET", "/images"),
        ("GET", "/images/detail"),
        ("GET", f"/images/{img['id']}"),
        ("DELETE", f"/images/{img['id']}"),
    ):
        r = call(cloud, method, path, demo, "2.36")
        assert r.status_code == 404, (method, path)
        assert r.json() == {
            "itemNotFound": {"code": 404, "message": "The resource could not be found."}
        }
    assert call(cloud, "GET", f"/images/{img['id']}", demo, "latest").status_code == 404
    assert call(cloud, "GET", f"/images/{img['id']}", demo).status_code == 200  # not deleted


def test_image_policy_refusals_are_403(cloud: Cloud, demo: dict) -> None:
    """The Image service's own rules decide (here an operator's override of them)."""
    img = new_image(cloud, demo)
    enforcer: Any = cloud.state.enforcer  # type: ignore[attr-defined]
    saved = {name: enforcer.rule_text(name) for name in ("get_image", "get_images")}
    enforcer.set_rules({"get_image": "!", "get_images": "!"})
    try:
        r = call(cloud, "GET", f"/images/{img['id']}", demo)
        assert r.status_code == 403, r.text
        assert r.json()["forbidden"]["message"] == f"Not authorized for image {img['id']}."
        assert call(cloud, "GET", "/images/detail", demo).status_code == 403
        assert call(cloud, "GET", f"/images/{img['id']}/metadata", demo).status_code == 403
    finally:
        enforcer.set_rules(saved)
    assert call(cloud, "GET", f"/images/{img['id']}", demo).status_code == 200


def test_needs_a_token(cloud: Cloud) -> None:
    assert cloud.client.get("/compute/v2.1/images").status_code == 401
