"""Image members: /v2/images/{id}/members[/{member_id}]. The owner shares a `shared`
image with other projects (POST, DELETE); a member accepts or rejects it (PUT); the
owner sees every member, a member sees only itself."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.db.base import utcnow
from stackbox.image.api import common
from stackbox.image.models import Image, ImageMember

STATUSES = ("pending", "accepted", "rejected")


def view(m: ImageMember) -> dict:
    return {
        "created_at": common.ts(m.created_at),
        "image_id": m.image_id,
        "member_id": m.member,
        "schema": "/v2/schemas/member",
        "status": m.status,
        "updated_at": common.ts(m.updated_at),
    }


def _member_or_404(req: Req, img: Image, member_id: str) -> ImageMember:
    m = common.member_of(req.db, img.id, member_id)
    if m is None:
        raise errors.NotFound(f"{member_id} is not a member of image {img.id}")
    return m


def _sees_all_members(req: Req, img: Image) -> bool:
    ctx = req.context
    return ctx.is_admin or img.owner == ctx.project_id


def register(router: Router) -> None:
    @router.route("POST", "/v2/images/{image_id}/members")
    def add_member(req: Req) -> dict:
        img = common.get_image(req, req.params["image_id"])
        common.authorize(req, "add_member", img)
        body = req.body
        if not isinstance(body, dict) or not isinstance(body.get("member"), str):
            raise errors.BadRequest('The request body must be {"member": "<project id>"}.')
        member_id = body["member"].strip()
        if not member_id or len(member_id) > 255:
            raise errors.BadRequest("Invalid member id.")
        if img.visibility != "shared":
            raise errors.Forbidden(
                f"Image members cannot be created for an image with visibility "
                f"'{img.visibility}': only 'shared' images have members."
            )
        if common.member_of(req.db, img.id, member_id) is not None:
            raise errors.Conflict(f"The member {member_id} of image {img.id} already exists.")
        count = req.db.scalar(
            select(func.count()).select_from(ImageMember).where(ImageMember.image_id == img.id)
        )
        if (count or 0) >= req.state.cfg.get("image", "image_member_quota"):
            raise errors.PayloadTooLarge("Maximum number of image members exceeded.")
        m = ImageMember(image_id=img.id, member=member_id, status="pending")
        req.db.add(m)
        try:
            req.db.flush()
        except IntegrityError:
            raise errors.Conflict(
                f"The member {member_id} of image {img.id} already exists."
            ) from None
        return view(m)

    @router.route("GET", "/v2/images/{image_id}/members")
    def list_members(req: Req) -> dict:
        img = common.get_image(req, req.params["image_id"])
        common.authorize(req, "get_members", img)
        if img.visibility != "shared":
            raise errors.Forbidden("Only shared images have members.")
        q = select(ImageMember).where(ImageMember.image_id == img.id)
        if not _sees_all_members(req, img):
            q = q.where(ImageMember.member == req.context.project_id)
        rows = req.db.scalars(q.order_by(ImageMember.created_at, ImageMember.member))
        return {"members": [view(m) for m in rows], "schema": "/v2/schemas/members"}

    @router.route("GET", "/v2/images/{image_id}/members/{member_id}")
    def get_member(req: Req) -> dict:
        img = common.get_image(req, req.params["image_id"])
        common.authorize(req, "get_member", img)
        member_id = req.params["member_id"]
        if not _sees_all_members(req, img) and member_id != req.context.project_id:
            raise errors.NotFound(f"{member_id} is not a member of image {img.id}")
        return view(_member_or_404(req, img, member_id))

    @router.route("PUT", "/v2/images/{image_id}/members/{member_id}")
    def update_member(req: Req) -> dict:
        img = common.get_image(req, req.params["image_id"])
        member_id = req.params["member_id"]
        m = _member_or_404(req, img, member_id)
        if not req.allowed("modify_member", {"project_id": img.owner, "member_id": m.member}):
            raise errors.Forbidden("You are not authorized to complete modify_member action.")
        body = req.body
        status = body.get("status") if isinstance(body, dict) else None
        if status not in STATUSES:
            raise errors.BadRequest(
                'The request body must be {"status": "accepted|rejected|pending"}.'
            )
        m.status = status
        m.updated_at = utcnow()
        return view(m)

    @router.route("DELETE", "/v2/images/{image_id}/members/{member_id}", status=204)
    def delete_member(req: Req) -> None:
        img = common.get_image(req, req.params["image_id"])
        common.authorize(req, "delete_member", img)
        m = _member_or_404(req, img, req.params["member_id"])
        req.db.delete(m)
