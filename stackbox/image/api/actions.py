"""POST /v2/images/{id}/actions/deactivate|reactivate (204). A deactivated image keeps
its data, but only admins may download it."""

from __future__ import annotations

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.image.api import common


def _change(req: Req, action: str, allowed_from: tuple[str, ...], to: str) -> None:
    img = common.get_image(req, req.params["image_id"])
    common.authorize(req, action, img)
    if img.status == to:
        return
    if img.status not in allowed_from:
        raise errors.Forbidden(f"Not allowed to {action} image in status '{img.status}'")
    img.status = to
    common.touch(img)


def register(router: Router) -> None:
    @router.route("POST", "/v2/images/{image_id}/actions/deactivate", status=204)
    def deactivate(req: Req) -> None:
        _change(req, "deactivate", ("active",), "deactivated")

    @router.route("POST", "/v2/images/{image_id}/actions/reactivate", status=204)
    def reactivate(req: Req) -> None:
        _change(req, "reactivate", ("deactivated",), "active")
