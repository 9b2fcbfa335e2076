"""Image data: PUT /v2/images/{id}/file (streamed upload), GET …/file (streamed
download, Range), PUT …/stage; POST …/import is registered from here (`imports.py`).

An upload moves the image `queued → saving → active` (`uploading` for a stage). The
body is streamed into a pending file while MD5 (`checksum`) and SHA-512
(`os_hash_value`) are computed in worker threads (see `ingest.py`); the file is renamed
to its final name only once complete, and the row is updated only if the image is
still `saving`. Before that the data must pass Glance's format checks (it is the
declared disk_format and safe: `stackbox/image/formats.py`); data that fails them is
answered 415 and the image goes back to `queued`, as in Glance. A broken upload (client
gone, size mismatch, over `image_size_cap` or the project's `user_storage_quota`) kills
the image. Either way no file is left behind.
`fill` also stores what an import downloads (`downloads.py`: the legacy import task
claims its image with `claim`, web-download in `imports.py` with `data_limit`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from sqlalchemy import update
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect
from starlette.responses import FileResponse, Response

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.db.base import utcnow
from stackbox.image import formats
from stackbox.image.api import common
from stackbox.image.ingest import Digest, Ingest
from stackbox.image.models import Image, usage_of
from stackbox.image.store import PendingFile

LOG = logging.getLogger(__name__)

OCTET = "application/octet-stream"


async def db_call(req: Req, fn: Any, *args: Any) -> Any:
    """`fn(session, *args)` in a worker thread, in a transaction of its own."""

    def run() -> Any:
        with req.state.db.session() as s:
            return fn(s, *args)

    return await anyio.to_thread.run_sync(run, limiter=req.state.limiter)


def _declared_size(req: Req) -> int | None:
    """The size the client announces (X-OpenStack-Image-Size, else Content-Length)."""
    for name in ("x-openstack-image-size", "content-length"):
        raw = req.headers.get(name)
        if raw is not None:
            try:
                value = int(raw)
            except ValueError:
                raise errors.BadRequest(f"Invalid {name} header: {raw!r}.") from None
            if value < 0:
                raise errors.BadRequest(f"Invalid {name} header: {raw!r}.")
            return value
    return None


@dataclass(frozen=True)
class Claim:
    """An image claimed for new data by one upload or download."""

    image: Image
    status: str  # what the claim moved it to: saving, uploading (a stage) or importing
    limit: int  # the most bytes the data may have
    kill: bool = True  # a failure kills the image (else the claimant decides its fate)

    @property
    def stage(self) -> bool:
        return self.status == "uploading"


def data_limit(req: Req, s: Session, img: Image) -> int:
    """The most bytes new data of `img` may have: `image_size_cap`, and what is left of
    the owner's `user_storage_quota`."""
    cfg = req.state.cfg
    limit = cfg.get("image", "image_size_cap")
    quota = cfg.get("image", "user_storage_quota")
    if quota > 0:
        limit = min(limit, max(0, quota - usage_of(s, img.owner or "", exclude=img.id)))
    return limit


def claim(req: Req, image_id: str, to: str) -> Callable[[Session], Claim]:
    """Check and claim the image for an upload: `queued → to`."""

    def claim(s: Session) -> Claim:
        img = common.get_image(req, image_id, s)
        common.authorize(req, "upload_image", img, s)
        if img.status != "queued":
            raise errors.Conflict(
                f"Image status transition from {img.status} to {to} is not allowed"
            )
        limit = data_limit(req, s, img)
        done = common.updated(
            s,
            update(Image)
            .where(Image.id == image_id, Image.status == "queued")
            .values(status=to, updated_at=utcnow()),
        )
        if done != 1:
            raise errors.Conflict(f"Image {image_id} is not queued any more.")
        return Claim(img, to, limit)

    return claim


def _too_large(limit: int) -> errors.PayloadTooLarge:
    return errors.PayloadTooLarge(
        f"Image exceeds the storage quota or the size limit: at most {limit} bytes may be uploaded."
    )


class InvalidImageData(errors.UnsupportedMediaType):
    """The data is not the image's disk_format or fails its safety checks: Glance
    answers 415 with the reason and puts the image back to `queued`."""


def virtual_size(path: Path, img: Image, size: int) -> int | None:
    """Virtual size of the data, once it passed Glance's format checks
    (`stackbox/image/formats.py`); raises InvalidImageData when it does not."""
    try:
        return formats.check_received(path, img.disk_format, img.container_format, size)
    except formats.Unacceptable as exc:
        raise InvalidImageData(str(exc)) from None


def set_status(s: Any, image_id: str, status: str, to: str = "killed") -> None:
    """Move the image from `status` to `to` (unless something else moved it)."""
    s.execute(
        update(Image)
        .where(Image.id == image_id, Image.status == status)
        .values(status=to, updated_at=utcnow())
    )


def failed_status(exc: BaseException) -> str:
    """Where an image goes when receiving its data failed: back to `queued` when the
    data itself was refused (Glance's restore), else `killed`."""
    return "queued" if isinstance(exc, InvalidImageData) else "killed"


async def receive(req: Req, stage: bool) -> None:
    """Stream the request body into the store; see the module docstring."""
    image_id = req.params["image_id"]
    ctype = (req.headers.get("content-type") or OCTET).split(";")[0].strip().lower()
    if ctype != OCTET:
        raise errors.UnsupportedMediaType(f"Unsupported Content-Type {ctype}: use {OCTET}.")
    declared = _declared_size(req)
    to = "uploading" if stage else "saving"
    claimed = await db_call(req, claim(req, image_id, to))
    await fill(req, claimed, _body(req), declared)


OnCommit = Callable[[Session], None]


async def fill(
    req: Req,
    claimed: Claim,
    chunks: AsyncIterator[bytes],
    declared: int | None,
    on_commit: OnCommit | None = None,
) -> None:
    """Store `chunks` as the data of the claimed image: hashed, checked against the
    claim's limit and the `declared` size, its format verified (not for a stage), then
    committed (`active`, or still `uploading` for a stage), `on_commit` joining that
    transaction. On any failure the pending file is removed, the image killed (when
    the claim says so), and the error raised."""
    img, limit = claimed.image, claimed.limit
    st = common.store(req)
    pending: PendingFile = await anyio.to_thread.run_sync(st.new_file, claimed.stage)
    ingest = Ingest(pending)
    try:
        if declared is not None and declared > limit:
            raise _too_large(limit)
        await _stream(chunks, ingest, limit)
        digest = await ingest.finish()
        if declared is not None and digest.size != declared:
            raise errors.BadRequest(
                f"Received {digest.size} bytes but {declared} were announced: upload incomplete."
            )
        vsize = None
        if not claimed.stage:
            vsize = await anyio.to_thread.run_sync(virtual_size, pending.path, img, digest.size)
        await anyio.to_thread.run_sync(_commit, req, claimed, pending, digest, vsize, on_commit)
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            await ingest.abort()
            if claimed.kill:
                await db_call(req, set_status, img.id, claimed.status, failed_status(exc))
        raise


async def _body(req: Req) -> AsyncIterator[bytes]:
    try:
        async for chunk in req.raw.stream():
            yield chunk
    except ClientDisconnect:
        raise errors.BadRequest("The client disconnected before the upload completed.") from None


async def _stream(chunks: AsyncIterator[bytes], ingest: Ingest, limit: int) -> None:
    try:
        async for chunk in chunks:
            if ingest.size + len(chunk) > limit:
                raise _too_large(limit)
            await ingest.feed(chunk)
    except (errors.ApiError, anyio.get_cancelled_exc_class()):
        raise
    except Exception as exc:  # the data could not be read: a broken upload
        raise errors.BadRequest(f"The image data could not be read: {exc}") from None


def _commit(
    req: Req,
    claimed: Claim,
    pending: PendingFile,
    d: Digest,
    vsize: int | None,
    on_commit: OnCommit | None,
) -> None:
    st, image_id = common.store(req), claimed.image.id
    dest = pending.commit(st.staged_path(image_id) if claimed.stage else st.path(image_id))
    values: dict[str, Any] = {"size": d.size, "updated_at": utcnow()}
    if not claimed.stage:
        values.update(
            status="active",
            checksum=d.checksum,
            os_hash_algo=d.os_hash_algo,
            os_hash_value=d.os_hash_value,
            virtual_size=vsize,
        )
    try:
        with req.state.db.session() as s:
            done = common.updated(
                s,
                update(Image)
                .where(Image.id == image_id, Image.status == claimed.status)
                .values(**values),
            )
            if done != 1:
                raise errors.Conflict(f"Image {image_id} was deleted or changed during the upload.")
            if on_commit is not None:
                on_commit(s)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


def download(req: Req) -> Response:
    img = common.get_image(req, req.params["image_id"])
    common.authorize(req, "download_image", img)
    if img.status == "deactivated" and not req.context.is_admin:
        raise errors.Forbidden(
            "The requested image has been deactivated. Image data download is prohibited."
        )
    path = common.store(req).path(img.id)
    if img.status not in common.DATA_STATUSES or not path.is_file():
        return Response(status_code=204)
    headers = {} if "range" in req.headers else {"Content-MD5": img.checksum or ""}
    resp = FileResponse(path, media_type=OCTET, headers=headers)
    resp.chunk_size = 1 << 20
    return resp


def hash_file(path: Path) -> Digest:
    md5, sha, size = hashlib.md5(usedforsecurity=False), hashlib.sha512(), 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            md5.update(block)
            sha.update(block)
            size += len(block)
    return Digest(size, md5.hexdigest(), sha.hexdigest())


def register(router: Router) -> None:
    @router.route("PUT", "/v2/images/{image_id}/file", raw_body=True, status=204)
    async def upload(req: Req) -> None:
        await receive(req, stage=False)

    @router.route("PUT", "/v2/images/{image_id}/stage", raw_body=True, status=204)
    async def stage(req: Req) -> None:
        await receive(req, stage=True)

    router.route("GET", "/v2/images/{image_id}/file")(download)
