"""POST /v2/images/{id}/import: Glance's interoperable import, by one of `METHODS`.

- `glance-direct`: the staged data (PUT …/stage) becomes the image's data. The image
  goes `uploading → importing → active`; the request answers 202 once that is done
  (a rename plus hashing and inspecting the staged file in worker threads). Staged data
  that fails Glance's format checks (`upload.virtual_size`) is removed and the image
  goes back to `queued`, as Glance's import reverts it (still 202; the task says why);
  any other failure kills it.
- `web-download`: the image's data is downloaded from `method.uri`
  (`web_download.py`). The URI must pass the import filter at request time (400
  otherwise, as Glance); the image goes `queued → importing` and the request answers
  202 at once; the download runs in the background and leaves the image `active`,
  or `queued` again on failure.

Checks come in Glance's order: the body (400), the image (404 when not visible, 409
for a wrong status or missing formats, then `modify_image`), then the URI (400). The
claim moves the image to `importing`, sets Glance's progress properties
(`common.import_progress`) and adds the task record (`stackbox/image/tasks.py`) in one
transaction; the task ends `success`, or `failure` with what went wrong."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqlalchemy import update
from sqlalchemy.orm import Session

from stackbox import log as sblog
from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.db.base import utcnow
from stackbox.image import tasks
from stackbox.image.api import common, downloads, upload, web_download
from stackbox.image.models import Image

STORES = [common.STORE]


@dataclass(frozen=True)
class Method:
    """An import method: the status it takes an image from, Glance's refusal of any
    other, the request-time check of its parameters, and what it does once claimed."""

    source: str
    conflict: str
    run: Callable[[Req, upload.Claim, str, dict[str, Any]], Awaitable[None]]
    check: Callable[[Req, dict[str, Any]], Awaitable[None]] | None = None


async def _glance_direct(req: Req, claimed: upload.Claim, task_id: str, _m: dict) -> None:
    await anyio.to_thread.run_sync(_finish, req, claimed.image, task_id)


# What GET /v2/info/import advertises; a name not here is refused.
METHODS: dict[str, Method] = {
    "glance-direct": Method(
        "uploading",
        "Image needs to be staged before 'glance-direct' method can be used",
        _glance_direct,
    ),
    "web-download": Method(
        "queued",
        "Image needs to be in 'queued' state to use 'web-download' method",
        web_download.start,
        web_download.check,
    ),
}


def _parse(body: Any) -> tuple[str, dict[str, Any], list[str]]:
    """The method's name, its parameters and the target stores (400/409 as Glance)."""
    method = body.get("method") if isinstance(body, dict) else None
    if not isinstance(method, dict):
        raise errors.BadRequest("Import request requires a 'method' field.")
    name = method.get("name")
    if name is None:
        raise errors.BadRequest("Import request requires a 'name' field.")
    if not isinstance(name, str) or name not in METHODS:
        raise errors.BadRequest(f"Unknown import method name '{name}'.")
    for flag in ("all_stores_must_succeed", "all_stores"):
        if not isinstance(body.get(flag, False), bool):
            raise errors.BadRequest(f"'{flag}' must be boolean value only")
    stores = body.get("stores", STORES)
    if body.get("all_stores") and "stores" in body:
        raise errors.BadRequest(
            "All_stores parameter can't be used with x-image-meta-store header or stores parameter"
        )
    if not isinstance(stores, list) or not all(isinstance(st, str) for st in stores):
        raise errors.BadRequest("'stores' must be a list of store identifiers.")
    for store in stores:
        if store not in STORES:
            raise errors.Conflict(f"Unknown scheme '{store}' found in URI")
    return name, method, stores or STORES


def _check_image(s: Session, req: Req, image_id: str, name: str) -> Image:
    img = common.get_image(req, image_id, s)
    if img.status == "active":
        raise errors.Conflict("Image with status active cannot be target for import")
    if img.status != METHODS[name].source:
        raise errors.Conflict(METHODS[name].conflict)
    for attr in ("container_format", "disk_format"):
        if not getattr(img, attr):
            raise errors.Conflict(f"'{attr}' needs to be set before import")
    common.authorize(req, "modify_image", img, s)
    return img


def _claim(
    req: Req, image_id: str, name: str, task_input: dict[str, Any], request_id: str
) -> Callable[[Session], tuple[upload.Claim, str]]:
    """Claim the image (`source → importing`) and add its task, in one transaction."""

    def claim(s: Session) -> tuple[upload.Claim, str]:
        img = _check_image(s, req, image_id, name)
        limit = upload.data_limit(req, s, img)
        done = common.updated(
            s,
            update(Image)
            .where(Image.id == image_id, Image.status == img.status)
            .values(status="importing", updated_at=utcnow()),
        )
        if done != 1:
            raise errors.Conflict(f"Image {image_id} changed status: try the import again.")
        common.import_progress(s, image_id, importing=True, failed=False)
        task = tasks.new_import(s, req.context, image_id, task_input, request_id)
        return upload.Claim(img, "importing", limit, kill=False), task.id

    return claim


def _finish(req: Req, img: Image, task_id: str) -> None:
    """glance-direct: the staged file becomes the image's data."""
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
            common.import_progress(s, img.id, importing=False, failed=True)
            tasks.fail(s, task_id, downloads.failure_message(exc))
        if isinstance(exc, upload.InvalidImageData):
            return  # refused data: back to queued, the task says why (Glance answers 202)
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
            common.import_progress(s, img.id, importing=False, failed=False)
            tasks.succeed(s, task_id, {"image_id": img.id})


def register(router: Router) -> None:
    @router.route("POST", "/v2/images/{image_id}/import", status=202)
    async def import_image(req: Req) -> None:
        body = req.body
        name, method, stores = _parse(body)
        spec, image_id = METHODS[name], req.params["image_id"]
        if spec.check is not None:  # the image first, then the parameters, as Glance
            await upload.db_call(req, _check_image, req, image_id, name)
            await spec.check(req, method)
        task_input = {"image_id": image_id, "import_req": body, "backend": stores}
        rid = sblog.request_id.get() or ""
        claimed, task_id = await upload.db_call(req, _claim(req, image_id, name, task_input, rid))
        await spec.run(req, claimed, task_id, method)
