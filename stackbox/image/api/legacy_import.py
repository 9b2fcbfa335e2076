"""The work of a legacy `import` task (POST /v2/tasks), as Glance's `import` flow does
it: create the image from `image_properties`, download `import_from` into it, end the
task as `success` (result: the image id) or `failure` (message), deleting the image it
created when anything failed.

It runs in the background of the API process that accepted the task
(`downloads.start`), with the identity of the task's creator: the image is created by
`images.new_image` (the same checks and policies as POST /v2/images), claimed by
`upload.claim` and filled by `downloads.download` (shared with web-download)."""

from __future__ import annotations

import logging
from typing import Any

import anyio
from sqlalchemy.orm import Session

from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.image import import_filter, tasks
from stackbox.image.api import common, downloads, images, upload
from stackbox.image.models import Image

LOG = logging.getLogger(__name__)
INPUT_KEYS = ("import_from", "import_from_format", "image_properties")


def start(req: Req, task_id: str, task_input: dict[str, Any]) -> None:
    """Run the task in the background of this process (call from the event loop)."""
    downloads.start(req, run(req, task_id, task_input))


async def run(req: Req, task_id: str, task_input: dict[str, Any]) -> None:
    """The whole task; never raises (except cancellation): a failure ends the task."""
    if not await upload.db_call(req, tasks.begin, task_id):
        return
    image_id: str | None = None
    try:
        _check_input(task_input)
        image_id = await upload.db_call(req, _create_image, req, task_input["image_properties"])
        await _fill(req, image_id, task_input["import_from"])
    except BaseException as exc:
        message = downloads.failure_message(exc)
        LOG.warning("import task %s failed: %s", task_id, message)
        with anyio.CancelScope(shield=True):
            await upload.db_call(req, _fail, task_id, image_id, message)
            if image_id is not None:
                await anyio.to_thread.run_sync(common.store(req).delete, image_id)
        if not isinstance(exc, Exception):
            raise
        return
    await upload.db_call(req, tasks.succeed, task_id, {"image_id": image_id})


def _check_input(task_input: dict[str, Any]) -> None:
    for key in INPUT_KEYS:
        if key not in task_input:
            raise errors.BadRequest(f"Input does not contain '{key}' field")


def _create_image(s: Session, req: Req, properties: Any) -> str:
    if properties == {}:  # Glance's placeholders for an import without properties
        properties = {"disk_format": "qcow2", "container_format": "bare"}
    return images.new_image(req, properties, s).id


async def _fill(req: Req, image_id: str, url: str) -> None:
    claimed = await upload.db_call(req, upload.claim(req, image_id, "saving"))
    await downloads.download(req, claimed, url, import_filter.LEGACY)


def _fail(s: Session, task_id: str, image_id: str | None, message: str) -> None:
    """End the task as a failure and delete the image it created, in one transaction."""
    tasks.fail(s, task_id, message)
    img = s.get(Image, image_id) if image_id is not None else None
    if img is not None:
        s.delete(img)
