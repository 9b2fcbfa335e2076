"""POST /v2/images/{id}/import with `{"method": {"name": "glance-direct"}}`: the staged
data (PUT …/stage) becomes the image's data. The image goes `uploading → importing →
active`; the request answers 202 once the import is done (it is a rename plus hashing
the staged file in worker threads)."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.to_thread
from sqlalchemy import update

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.db.base import utcnow
from stackbox.image.api import common, info, upload
from stackbox.image.models import Image


def _claim(req: Req, image_id: str) -> Any:
    def claim(s: Any) -> Image:
        img = common.get_image(req, image_id, s)
        common.authorize(req, "modify_image", img, s)
        if img.status != "uploading":
            raise errors.Conflict(
                f"Image {image_id} is in status {img.status}: stage its data first "
                "(glance-direct imports an image in status uploading)."
            )
        s.execute(
            update(Image)
            .where(Image.id == image_id)
            .values(status="importing", updated_at=utcnow())
        )
        return img

    return claim


def _finish(req: Req, img: Image) -> None:
    st = common.store(req)
    staged = st.staged_path(img.id)
    try:
        d = upload.hash_file(staged)
        vsize = upload.virtual_size(staged, img.disk_format, d.size)
        dest = st.promote(img.id)
    except BaseException:
        st.delete(img.id)
        with req.state.db.session() as s:
            upload._kill(s, img.id, "importing")
        raise
    with req.state.db.session() as s:
        done = common.updated(
            s,
            update(Image)
            .where(Image.id == img.id, Image.status == "importing")
            .values(
                status="active",
                size=d.size,
                checksum=d.checksum,
                os_hash_algo=d.os_hash_algo,
                os_hash_value=d.os_hash_value,
                virtual_size=vsize,
                updated_at=utcnow(),
            ),
        )
        if done != 1:
            dest.unlink(missing_ok=True)


def register(router: Router) -> None:
    @router.route("POST", "/v2/images/{image_id}/import", status=202)
    async def import_image(req: Req) -> Any:
        body = req.body
        method = body.get("method") if isinstance(body, dict) else None
        name = method.get("name") if isinstance(method, dict) else None
        if name not in info.IMPORT_METHODS:
            raise errors.BadRequest(
                f"Import method {name!r} is not supported: use one of "
                f"{', '.join(info.IMPORT_METHODS)}."
            )
        img = await upload._db(req, _claim(req, req.params["image_id"]))
        await anyio.to_thread.run_sync(_finish, req, img)
        from starlette.responses import Response

        return Response(status_code=202)
