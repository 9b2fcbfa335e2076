"""Images (Nova's deprecated proxy to the Image API): GET /v2.1/images[/detail] (filters
name, status, changes-since, server, type, minRam, minDisk and property-*; limit/marker
paging with `images_links`), GET and DELETE /v2.1/images/{id}. Gone from microversion
2.36 (404, as every proxy API), like Nova. The metadata sub-resource is in
image_metadata.py.

Everything is asked of the Image service through its internal client
(`stackbox.image.client`) with this request's context: which images a project sees, who
may delete one, all is the Image service's decision; this module only translates
Nova's parameters and renders Nova's view."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.compute.api import common
from stackbox.compute.api.microversion import version
from stackbox.image.client import (
    ImageBadRequest,
    ImageClient,
    ImageInfo,
    ImageNotAuthorized,
    ImageNotFound,
)

LAST_VERSION = (2, 35)  # Nova's MAX_PROXY_API_SUPPORT_VERSION
MAX_LIMIT = 1000  # Nova's [api] max_limit
# Glance status -> Nova's image status and progress (anything else: UNKNOWN, 0).
STATUS = {
    "active": "ACTIVE",
    "queued": "SAVING",
    "saving": "SAVING",
    "deleted": "DELETED",
    "pending_delete": "DELETED",
    "killed": "ERROR",
}
PROGRESS = {"queued": 25, "saving": 50, "active": 100}
# Nova's filter name -> the Image API's (property filters are extra properties there).
FILTERS = {
    "name": "name",
    "status": "status",
    "server": "instance_uuid",
    "type": "image_type",
    "minRam": "min_ram",
    "minDisk": "min_disk",
}
JSON_PROPERTIES = ("block_device_mapping", "mappings")  # stored as JSON text
_TRUE = ("1", "t", "true", "on", "y", "yes")


def check_version(req: Req, last: tuple[int, int] = LAST_VERSION) -> None:
    """404 past the last microversion that has the proxy (Nova answers as if the
    route did not exist)."""
    if version(req) > last:
        raise errors.NotFound("The resource could not be found.")


def authorize(req: Req, action: str) -> None:
    """The Compute API's own gate; the Image service's rules then decide per image."""
    req.authorize(f"os_compute_api:{action}", {"project_id": req.context.project_id})


@contextlib.contextmanager
def image_errors(forbidden: str) -> Iterator[None]:
    """The Image service's refusals in Nova's words (404 "Image not found.", 403
    `forbidden`, 400 with the Image service's reason): never a 500."""
    try:
        yield
    except ImageNotFound:
        raise errors.NotFound("Image not found.") from None
    except ImageNotAuthorized:
        raise errors.Forbidden(forbidden) from None
    except ImageBadRequest as exc:
        raise errors.BadRequest(exc.message) from None


def get_image(req: Req, image_id: str) -> ImageInfo:
    with image_errors(f"Not authorized for image {image_id}."):
        return ImageClient(req).get(image_id)


def glance_params(req: Req, limit: int, marker: str | None) -> list[tuple[str, str]]:
    """Nova's query as the Image API's list parameters."""
    out: list[tuple[str, str]] = [("limit", str(limit))]
    for key, value in req.query.multi_items():
        if key in FILTERS:
            if key == "server":
                value = value.rstrip("/").rsplit("/", 1)[-1]
            elif key == "status":
                value = value.lower()
            out.append((FILTERS[key], value))
        elif key == "changes-since":
            since = common.query_time(key, value)
            out.append(("updated_at", "gte:" + since.isoformat()))
        elif key.startswith("property-") and len(key) > len("property-"):
            out.append((key[len("property-") :], value))
    if marker is not None:
        out.append(("marker", marker))
    return out


def links(req: Req, image_id: str, image_url: str) -> list[dict[str, str]]:
    """self, bookmark, and the image's address in the Image API (`alternate`)."""
    return [
        *common.links(req, "images", image_id),
        {
            "rel": "alternate",
            "type": "application/vnd.openstack.image",
            "href": f"{image_url}/images/{image_id}",
        },
    ]


def metadata(info: ImageInfo) -> dict[str, Any]:
    """The extra properties, with the ones Nova keeps as JSON decoded."""
    out: dict[str, Any] = dict(info.properties)
    for key in JSON_PROPERTIES:
        if key in out:
            with contextlib.suppress(ValueError):
                out[key] = json.loads(out[key])
    return out


def basic(req: Req, info: ImageInfo, image_url: str) -> dict[str, Any]:
    return {"id": info.id, "name": info.name, "links": links(req, info.id, image_url)}


def show(req: Req, info: ImageInfo, image_url: str) -> dict[str, Any]:
    meta = metadata(info)
    out: dict[str, Any] = {
        "id": info.id,
        "name": info.name,
        "minRam": info.min_ram,
        "minDisk": info.min_disk,
        "metadata": meta,
        "created": common.iso(info.created_at),
        "updated": common.iso(info.updated_at),
        "status": STATUS.get(info.status, "UNKNOWN"),
        "progress": PROGRESS.get(info.status, 0),
        "OS-EXT-IMG-SIZE:size": info.size or 0,
        "links": links(req, info.id, image_url),
    }
    server = meta.get("instance_uuid")
    if server is not None:
        out["server"] = {"id": server, "links": common.links(req, "servers", server)}
    disk_config = meta.get("auto_disk_config")
    if disk_config is not None:
        auto = str(disk_config).strip().lower() in _TRUE
        out["OS-DCF:diskConfig"] = "AUTO" if auto else "MANUAL"
    return out


def _list(req: Req, detail: bool) -> dict[str, Any]:
    check_version(req)
    authorize(req, "images:index")
    limit, marker = common.paging(req, MAX_LIMIT)
    client = ImageClient(req)
    with image_errors("Not authorized to list images."):
        found = client.list(glance_params(req, limit, marker))
    view = show if detail else basic
    url = client.public_url()
    body: dict[str, Any] = {"images": [view(req, info, url) for info in found]}
    if limit and len(found) == limit:
        collection = "images/detail" if detail else "images"
        body["images_links"] = common.next_link_keeping(req, collection, found[-1].id)
    return body


def register(router: Router) -> None:
    @router.route("GET", "/v2.1/images")
    def index(req: Req) -> dict[str, Any]:
        return _list(req, detail=False)

    @router.route("GET", "/v2.1/images/detail")
    def detail(req: Req) -> dict[str, Any]:
        return _list(req, detail=True)

    @router.route("GET", "/v2.1/images/{image_id}")
    def get(req: Req) -> dict[str, Any]:
        check_version(req)
        authorize(req, "images:show")
        info = get_image(req, req.params["image_id"])
        return {"image": show(req, info, ImageClient(req).public_url())}

    @router.route("DELETE", "/v2.1/images/{image_id}", status=204)
    def delete(req: Req) -> None:
        check_version(req)
        authorize(req, "images:delete")
        with image_errors("You are not allowed to delete the image."):
            ImageClient(req).delete(req.params["image_id"])
