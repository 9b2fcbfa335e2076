"""Image metadata through the Compute API (/images/{id}/metadata[/{key}]): the changes
land in the Image service (seen through the Image API), the metadata_items quota
(403), the Image service's policies and protections, and the 404 from 2.39."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from tests.compute.api.conftest import Cloud, call
from tests.compute.api.images_helpers import new_image
from tests.compute.api.quota_helpers import new_member, set_quota
from tests.image.conftest import get


def meta(cloud: Cloud, headers: dict, image_id: str, version: str | None = None) -> Any:
    return call(cloud, "GET", f"/images/{image_id}/metadata", headers, version)


def test_set_update_show_delete(cloud: Cloud, demo: dict) -> None:
    img = new_image(cloud, demo)
    path = f"/images/{img['id']}/metadata"
    r = call(cloud, "PUT", path, demo, json={"metadata": {"os_version": "1", "os_distro": "x"}})
    assert r.status_code == 200, r.text
    assert r.json() == {"metadata": {"os_version": "1", "os_distro": "x"}}
    r = call(cloud, "PUT", path, demo, json={"metadata": {"os_version": "2", "arch": "y"}})
    assert meta(cloud, demo, img["id"]).json() == {"metadata": {"os_version": "2", "arch": "y"}}
    r = call(cloud, "POST", path, demo, json={"metadata": {"os_version": "3", "extra": "z"}})
    assert r.status_code == 200, r.text
    merged = {"os_version": "3", "arch": "y", "extra": "z"}
    assert r.json() == {"metadata": merged}
    assert meta(cloud, demo, img["id"]).json() == {"metadata": merged}
    r = call(cloud, "GET", f"{path}/arch", demo)
    assert r.status_code == 200 and r.json() == {"meta": {"arch": "y"}}
    r = call(cloud, "PUT", f"{path}/arch", demo, json={"meta": {"arch": "w"}})
    assert r.status_code == 200 and r.json() == {"meta": {"arch": "w"}}
    r = call(cloud, "DELETE", f"{path}/extra", demo)
    assert r.status_code == 204 and r.content == b""
    assert meta(cloud, demo, img["id"]).json() == {"metadata": {"os_version": "3", "arch": "w"}}
    # The Image service holds the change, and the image's other attributes are intact.
    through_glance = get(cloud, demo, img["id"]).json()
    assert (through_glance["os_version"], through_glance["arch"]) == ("3", "w")
    assert "extra" not in through_glance and through_glance["status"] == "active"
    assert call(cloud, "GET", f"/images/{img['id']}", demo).json()["image"]["metadata"] == {
        "os_version": "3",
        "arch": "w",
    }


def test_bad_requests(cloud: Cloud, demo: dict) -> None:
    img = new_image(cloud, demo, os_distro="x")
    path = f"/images/{img['id']}/metadata"
    r = call(cloud, "PUT", f"{path}/a", demo, json={"meta": {"b": "1"}})
    assert r.status_code == 400
    assert r.json()["badRequest"]["message"] == "Request body and URI mismatch"
    body: Any
    for body in (
        {"meta": {"a": "1", "b": "2"}},
        {"meta": {}},
        {"meta": {"a": 1}},
        {"meta": {"a": "v" * 256}},
        None,
    ):
        assert call(cloud, "PUT", f"{path}/a", demo, json=body).status_code == 400, body
    for body in ({"metadata": {"": "x"}}, {"metadata": {"a" * 256: "b"}}, {"metadata": []}, {}):
        assert call(cloud, "POST", path, demo, json=body).status_code == 400, body
        assert call(cloud, "PUT", path, demo, json=body).status_code == 400, body
    r = call(cloud, "GET", f"{path}/missing", demo)
    assert r.status_code == 404 and "itemNotFound" in r.json()
    r = call(cloud, "DELETE", f"{path}/missing", demo)
    assert r.status_code == 404
    assert r.json()["itemNotFound"]["message"] == "Invalid metadata key"
    # Names that are core attributes of an image are no metadata (the Image service
    # refuses them).
    r = call(cloud, "POST", path, demo, json={"metadata": {"name": "renamed"}})
    assert r.status_code == 403
    assert get(cloud, demo, img["id"]).json()["name"] == img["name"]
    assert meta(cloud, demo, img["id"]).json() == {"metadata": {"os_distro": "x"}}


def test_unknown_image_is_404(cloud: Cloud, demo: dict) -> None:
    path = f"/images/{uuid.uuid4()}/metadata"
    body = {"metadata": {"os_distro": "x"}}
    sent: Any
    for method, sub, sent in (
        ("GET", "", None),
        ("POST", "", body),
        ("PUT", "", body),
        ("GET", "/os_distro", None),
        ("PUT", "/os_distro", {"meta": {"os_distro": "x"}}),
        ("DELETE", "/os_distro", None),
    ):
        r = call(cloud, method, path + sub, demo, json=sent)
        assert r.status_code == 404, (method, sub, r.text)
        assert r.json()["itemNotFound"]["message"] == "Image not found."


def test_other_projects_images(cloud: Cloud, admin: dict, demo: dict) -> None:
    private = new_image(cloud, admin, visibility="private", os_distro="x")
    public = new_image(cloud, admin, visibility="public", os_distro="x")
    assert meta(cloud, demo, private["id"]).status_code == 404
    assert meta(cloud, demo, public["id"]).json() == {"metadata": {"os_distro": "x"}}
    path = f"/images/{public['id']}/metadata"
    r = call(cloud, "POST", path, demo, json={"metadata": {"mine": "no"}})
    assert r.status_code == 403
    assert r.json()["forbidden"]["message"] == f"Not authorized for image {public['id']}."
    assert call(cloud, "DELETE", f"{path}/os_distro", demo).status_code == 403
    assert meta(cloud, admin, public["id"]).json() == {"metadata": {"os_distro": "x"}}


def test_metadata_items_quota(cloud: Cloud, admin: dict) -> None:
    srv: Any = SimpleNamespace(client=cloud.client, admin=admin)  # what the helpers use
    member = new_member(srv)
    set_quota(srv, member.project_id, metadata_items=2)
    img = new_image(cloud, member.headers, a="1")
    path = f"/images/{img['id']}/metadata"
    assert (
        call(cloud, "POST", path, member.headers, json={"metadata": {"b": "2"}}).status_code == 200
    )
    for method, sub, body in (
        ("POST", "", {"metadata": {"c": "3"}}),
        ("PUT", "", {"metadata": {"x": "1", "y": "2", "z": "3"}}),
        ("PUT", "/c", {"meta": {"c": "3"}}),
    ):
        r = call(cloud, method, path + sub, member.headers, json=body)
        assert r.status_code == 403, (method, sub)
        assert r.json()["forbidden"]["message"] == "Image metadata limit exceeded"
    assert meta(cloud, member.headers, img["id"]).json() == {"metadata": {"a": "1", "b": "2"}}
    r = call(cloud, "PUT", path, member.headers, json={"metadata": {"only": "1"}})
    assert r.status_code == 200
    limits = call(cloud, "GET", "/limits", member.headers).json()["limits"]["absolute"]
    assert limits["maxImageMeta"] == 2


@pytest.mark.parametrize("version, status", [("2.38", 200), ("2.39", 404), ("latest", 404)])
def test_gone_from_2_39(cloud: Cloud, demo: dict, version: str, status: int) -> None:
    img = new_image(cloud, demo, os_distro="x")
    path = f"/images/{img['id']}/metadata"
    assert meta(cloud, demo, img["id"], version).status_code == status
    r = call(cloud, "PUT", path, demo, version, json={"metadata": {"bad key!": 1}})
    assert r.status_code == (400 if status == 200 else 404)
    r = call(cloud, "DELETE", f"{path}/os_distro", demo, version)
    assert r.status_code == (204 if status == 200 else 404)
