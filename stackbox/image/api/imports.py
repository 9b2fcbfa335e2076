"""POST /v2/images/{id}/import with `{"method": {"name": "glance-direct"}}`: the staged
data (PUT …/stage) becomes the image's data. The image goes `uploading → importing →
active`; the request answers 202 once the import is done (it is a rename plus hashing
and inspecting the staged file in worker threads). Each import that claims its image
leaves a task record (`stackbox/image/tasks.py`): `success`, or `failure` with what
went wrong. Staged data that fails Glance's format checks (`upload.virtual_size`) is
removed and the image goes back to `queued`, as Glance's import reverts it; the request
still answers 202 (Glance imports in the background), the task says why."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.to_thread
from sqlalchemy import update

from stackbox import log as sblog
from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.db.base import utcnow
from stackbox.image import tasks
from stackbox.image.api import common, info, upload
from stackbox.image.models import Image

STORES = ["fs"]


def _claim(req: Req, image_id: str, task_input: dict[str, Any], request_id: str) -> Any:
    """Claim the image (`uploading → importing`) and add its task, in one transaction."""

    def claim(s: Any) -> tuple[Image, str]:
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
        task = tasks.new_import(s, req.context, image_id, task_input, request_id)
        return img, task.id

    return claim


def failure_message(exc: BaseException) -> str:
    if isinstance(exc, errors.ApiError):
        return exc.message
    if not isinstance(exc, Exception):
        return "The import was interrupted."
    return f"Error: {type(exc).__name__}: {exc}"


def _finish(req: Req, img: Image, task_id: str) -> None:
    st = common.store(req)
    staged = st.staged_path(img.id)
    with req.state.db.session() as s:
        tasks.begin(s, task_id)
    try:
        d = upload.hash_file(staged)
        vsize = upload.virtual_size(staged, img, d.size)
        dest = st.promote(img.id)
    except BaseException as exc:
        st.delete(img.id)
        with req.state.db.session() as s:
            upload.set_status(s, img.id, "importing", upload.failed_status(exc))
            tasks.fail(s, task_id, failure_message(exc))
        if isinstance(exc, upload.InvalidImageData):
            return
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
            tasks.fail(s, task_id, f"Image {img.id} was deleted or changed during the import.")
        else:
            tasks.succeed(s, task_id, {"image_id": img.id})


def register(router: Router) -> None:
    @router.route("POST", "/v2/images/{image_id}/import", status=202)
    async def import_image(req: Req) -> None:
        body = req.body
        method = body.get("method") if isinstance(body, dict) else None
        name = method.get("name") if isinstance(method, dict) else None
        if name not in info.IMPORT_METHODS:
            raise errors.BadRequest(
                f"Import method {name!r} is not supported: use one of "
                f"{', '.join(info.IMPORT_METHODS)}."
            )
        image_id = req.params["image_id"]
        task_input = {"image_id": image_id, "import_req": body, "backend": STORES}
        rid = sblog.request_id.get() or ""
        img, task_id = await upload.db_call(req, _claim(req, image_id, task_input, rid))
        await anyio.to_thread.run_sync(_finish, req, img, task_id)
