"""PUT and DELETE /v2/images/{id}/tags/{tag} (204 both; deleting a tag the image
does not have is 404)."""

from __future__ import annotations

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.image.api import attrs, common
from stackbox.image.models import ImageTag


def register(router: Router) -> None:
    @router.route("PUT", "/v2/images/{image_id}/tags/{tag}", status=204)
    def add_tag(req: Req) -> None:
        img = common.get_image(req, req.params["image_id"])
        common.authorize(req, "modify_image", img)
        tag = req.params["tag"]
        if tag in {t.value for t in img.tags}:
            return
        attrs.tags_value(req, [*(t.value for t in img.tags), tag])
        img.tags.append(ImageTag(value=tag))
        common.touch(img)

    @router.route("DELETE", "/v2/images/{image_id}/tags/{tag}", status=204)
    def delete_tag(req: Req) -> None:
        img = common.get_image(req, req.params["image_id"])
        common.authorize(req, "modify_image", img)
        tag = req.params["tag"]
        for t in img.tags:
            if t.value == tag:
                img.tags.remove(t)
                common.touch(img)
                return
        raise errors.NotFound(f"Tag {tag} not found.")
