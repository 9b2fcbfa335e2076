"""Image records: POST/GET/PATCH/DELETE /v2/images[/{id}] (the list is in listing.py,
the JSON-patch rules in patch.py, the data in upload.py)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.image.api import attrs, common, info, listing, patch
from stackbox.image.models import Image, ImageProperty, ImageTag


def _create(req: Req) -> JSONResponse:
    img = new_image(req, req.body, req.db)
    return JSONResponse(
        common.view(req, img),
        status_code=201,
        headers={
            "Location": f"{req.base_url}/v2/images/{img.id}",
            "OpenStack-image-import-methods": ",".join(info.IMPORT_METHODS),
            "OpenStack-image-store-ids": "fs",
        },
    )


def new_image(req: Req, body: Any, s: Session) -> Image:
    """Add a `queued` image with the attributes of `body` (POST /v2/images' body), for
    the caller of `req`, in session `s`: 400/403/409/413 when they are not acceptable."""
    if not isinstance(body, dict):
        raise errors.BadRequest("The request body must be a JSON object of image attributes.")
    ctx = req.context
    values: dict[str, Any] = {"visibility": "shared", "owner": ctx.project_id}
    extra: dict[str, str] = {}
    tags: list[str] = []
    image_id = str(uuid.uuid4())
    for name, value in body.items():
        if name == "id":
            image_id = attrs.image_id(value)
        elif name == "tags":
            tags = attrs.tags_value(req, value)
        elif name in attrs.SETTABLE:
            values[name] = attrs.core_value(req, name, value)
        else:
            attrs.check_name_allowed(name)
            extra[name] = attrs.extra_value(name, value)
    if not req.allowed("add_image", {"project_id": values["owner"]}):
        raise errors.Forbidden("You are not authorized to complete add_image action.")
    attrs.check_visibility(req, values["visibility"], values["owner"])
    for name in extra:
        attrs.check_protection(req, name, "create")
    img = Image(id=image_id, status="queued", **values)
    img.properties = [ImageProperty(name=k, value=v) for k, v in extra.items()]
    img.tags = [ImageTag(value=t) for t in tags]
    if s.get(Image, image_id) is not None:
        raise errors.Conflict(f"Image with identifier {image_id} already exists!")
    s.add(img)
    try:
        s.flush()
    except IntegrityError:
        raise errors.Conflict(f"Image with identifier {image_id} already exists!") from None
    return img


def _patch(req: Req) -> dict:
    ctype = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
    draft = patch.MEDIA_TYPES.get(ctype)
    if draft is None:
        raise patch.media_type_error()
    ops = patch.parse(req.body, draft)
    img = common.get_image(req, req.params["image_id"])
    common.authorize(req, "modify_image", img)
    patch.apply(req, img, ops)
    common.touch(img)
    req.db.flush()
    return common.view(req, img)


def _delete(req: Req) -> None:
    delete_image(req, req.params["image_id"])


def delete_image(req: Req, image_id: str) -> None:
    """Delete an image the caller may delete (404 when it cannot see it, 403 when policy
    or `protected` forbids it); commits the request's transaction, then removes the data."""
    img = common.get_image(req, image_id)
    common.authorize(req, "delete_image", img)
    if img.protected:
        raise errors.Forbidden(f"Image {image_id} is protected and cannot be deleted.")
    req.db.delete(img)
    req.db.commit()
    common.store(req).delete(image_id)


def register(router: Router) -> None:
    router.route("POST", "/v2/images", status=201)(_create)
    router.route("GET", "/v2/images")(listing.list_images)

    @router.route("GET", "/v2/images/{image_id}")
    def get_image(req: Req) -> dict:
        img = common.get_image(req, req.params["image_id"])
        common.authorize(req, "get_image", img)
        return common.view(req, img)

    router.route("PATCH", "/v2/images/{image_id}")(_patch)
    router.route("DELETE", "/v2/images/{image_id}", status=204)(_delete)
