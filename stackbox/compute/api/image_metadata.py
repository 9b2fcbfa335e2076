"""Image metadata (Nova's deprecated proxy of an image's extra properties): GET, POST
(merge) and PUT (replace) /v2.1/images/{id}/metadata; GET, PUT and DELETE
/v2.1/images/{id}/metadata/{key}. Gone from microversion 2.39 (404), three versions
after the rest of the image proxy, as in Nova.

The count of items is held to the project's metadata_items quota (Nova's maxImageMeta:
403 "Image metadata limit exceeded"); the change itself is the Image service's, through
its internal client with this request's context, so its policies and property
protections decide (403 when they refuse)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackbox.api import errors
from stackbox.api.framework import Req, Router, validate
from stackbox.compute import quotas
from stackbox.compute.api import images
from stackbox.compute.api.server_create import METADATA
from stackbox.compute.api.server_metadata import METADATA_BODY
from stackbox.image.client import ImageClient, ImageInfo

LAST_VERSION = (2, 38)  # Nova's MAX_IMAGE_META_PROXY_API_VERSION
# the bodies are a server's metadata bodies, but one item at a time under "meta"
META_BODY = {
    "type": "object",
    "properties": {"meta": {**METADATA, "minProperties": 1, "maxProperties": 1}},
    "required": ["meta"],
    "additionalProperties": False,
}


def _image(req: Req, action: str) -> ImageInfo:
    images.check_version(req, LAST_VERSION)
    images.authorize(req, f"image-metadata:{action}")
    return images.get_image(req, req.params["image_id"])


def _check_quota(req: Req, metadata: Mapping[str, str]) -> None:
    if not metadata:
        return
    try:
        quotas.check_metadata(req.db, req.context.project_id or "", len(metadata), req.state.cfg)
    except quotas.QuotaExceeded:
        raise errors.Forbidden("Image metadata limit exceeded") from None


def _store(req: Req, info: ImageInfo, metadata: Mapping[str, str]) -> ImageInfo:
    """Make `metadata` the image's properties; the image as it then is."""
    with images.image_errors(f"Not authorized for image {info.id}."):
        return ImageClient(req).set_properties(info.id, metadata)


def register(router: Router) -> None:
    base = "/v2.1/images/{image_id}/metadata"

    @router.route("GET", base)
    def index(req: Req) -> dict[str, Any]:
        return {"metadata": images.metadata(_image(req, "index"))}

    @router.route("POST", base)
    def create(req: Req) -> dict[str, Any]:
        images.check_version(req, LAST_VERSION)
        validate(METADATA_BODY, req.body)
        info = _image(req, "create")
        merged = {**info.properties, **req.body["metadata"]}
        _check_quota(req, merged)
        return {"metadata": images.metadata(_store(req, info, merged))}

    @router.route("PUT", base)
    def update_all(req: Req) -> dict[str, Any]:
        images.check_version(req, LAST_VERSION)
        validate(METADATA_BODY, req.body)
        info = _image(req, "update_all")
        metadata = req.body["metadata"]
        _check_quota(req, metadata)
        _store(req, info, metadata)
        return {"metadata": metadata}

    @router.route("GET", base + "/{key}")
    def show(req: Req) -> dict[str, Any]:
        meta = images.metadata(_image(req, "show"))
        key = req.params["key"]
        if key not in meta:
            raise errors.NotFound("The resource could not be found.")
        return {"meta": {key: meta[key]}}

    @router.route("PUT", base + "/{key}")
    def update(req: Req) -> dict[str, Any]:
        images.check_version(req, LAST_VERSION)
        validate(META_BODY, req.body)
        meta = req.body["meta"]
        key = req.params["key"]
        if key not in meta:
            raise errors.BadRequest("Request body and URI mismatch")
        info = _image(req, "update")
        merged = {**info.properties, **meta}
        _check_quota(req, merged)
        _store(req, info, merged)
        return {"meta": meta}

    @router.route("DELETE", base + "/{key}", status=204)
    def delete(req: Req) -> None:
        info = _image(req, "delete")
        key = req.params["key"]
        if key not in info.properties:
            raise errors.NotFound("Invalid metadata key")
        _store(req, info, {k: v for k, v in info.properties.items() if k != key})
