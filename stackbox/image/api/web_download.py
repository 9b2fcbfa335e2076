"""The web-download import method (POST /v2/images/{id}/import with
`{"method": {"name": "web-download", "uri": URL}}`), as Glance's web_download plugin:
the URI is checked against the import filter when the import is requested (`check`,
a 400 naming web-download when it does not pass); once `imports.py` has claimed the
image (`importing`) and added the task, `start` downloads the data in the background
(`downloads.py`, the same path as the legacy import task).

Glance's outcomes: the data stored, the image `active` and the task `success`, in one
transaction; or the image back to `queued` (with `os_glance_failed_import` naming the
store) and the task `failure` with the reason, in one transaction. Nothing of a failed
download is left in the store."""

from __future__ import annotations

import functools
import logging
from typing import Any

import anyio
from sqlalchemy import update
from sqlalchemy.orm import Session

from stackbox.api.framework import Req
from stackbox.db.base import utcnow
from stackbox.image import import_filter, tasks
from stackbox.image.api import common, downloads, upload
from stackbox.image.models import Image

LOG = logging.getLogger(__name__)
PURPOSE = import_filter.WEB_DOWNLOAD


async def check(req: Req, method: dict[str, Any]) -> None:
    """The method's `uri` passes the import filter (400 otherwise)."""
    await downloads.check_url(req, method.get("uri"), PURPOSE)


async def start(req: Req, claimed: upload.Claim, task_id: str, method: dict[str, Any]) -> None:
    """Start the download in the background; the request answers at once."""
    downloads.start(req, run(req, claimed, task_id, method["uri"]))


async def run(req: Req, claimed: upload.Claim, task_id: str, uri: str) -> None:
    """The whole import; never raises (except cancellation): a failure ends the task."""
    image_id = claimed.image.id
    if not await upload.db_call(req, tasks.begin, task_id):
        return
    done = functools.partial(_succeeded, image_id, task_id)
    try:
        await downloads.download(req, claimed, uri, PURPOSE, on_commit=done)
    except BaseException as exc:
        message = downloads.failure_message(exc)
        LOG.warning("web-download of image %s (task %s) failed: %s", image_id, task_id, message)
        with anyio.CancelScope(shield=True):
            await upload.db_call(req, _failed, image_id, task_id, message)
        if not isinstance(exc, Exception):
            raise


def _succeeded(image_id: str, task_id: str, s: Session) -> None:
    """In the transaction that made the image `active`."""
    common.import_progress(s, image_id, importing=False, failed=False)
    tasks.succeed(s, task_id, {"image_id": image_id})


def _failed(s: Session, image_id: str, task_id: str, message: str) -> None:
    tasks.fail(s, task_id, message)
    back = common.updated(
        s,
        update(Image)
        .where(Image.id == image_id, Image.status == "importing")
        .values(status="queued", updated_at=utcnow()),
    )
    if back:
        common.import_progress(s, image_id, importing=False, failed=True)
