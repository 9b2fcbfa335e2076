"""The life of an import task record (Glance's `tasks`): an import adds one `pending`
in the transaction that claims the image (a legacy `import` task, POST /v2/tasks, adds
its own), moves it to `processing` when the work starts and ends it as `success`
(result: the image id) or `failure` (with a message).
An ended task expires `TTL` later: from then on it is hidden, and the next new task
purges it. Every change is one conditional UPDATE, so an ended task never changes again.

Plain functions on a session; who may see which task and how it renders are the API's
business (`stackbox/image/api/tasks.py`)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from stackbox.api.context import RequestContext
from stackbox.db.base import utcnow
from stackbox.image.models import ImageTask

TTL = dt.timedelta(hours=48)  # Glance's [task] task_time_to_live default
IMPORT = "api_image_import"
LEGACY_IMPORT = "import"  # POST /v2/tasks: download a URL into a new image
TYPES = (LEGACY_IMPORT, IMPORT, "location_import")
STATUSES = ("pending", "processing", "success", "failure")
UNFINISHED = ("pending", "processing")


def new_import(
    s: Session, ctx: RequestContext, image_id: str, task_input: dict[str, Any], request_id: str
) -> ImageTask:
    """Add the `pending` record of an import of `image_id` (in the caller's transaction)."""
    return new_task(s, ctx, IMPORT, task_input, request_id, image_id)


def new_task(
    s: Session,
    ctx: RequestContext,
    kind: str,
    task_input: dict[str, Any] | None,
    request_id: str,
    image_id: str | None = None,
) -> ImageTask:
    """Add a `pending` task of type `kind` owned by the caller's project."""
    purge_expired(s)
    task = ImageTask(
        id=str(uuid.uuid4()),
        type=kind,
        status="pending",
        input=task_input,
        result=None,
        message="",
        owner=ctx.project_id,
        image_id=image_id,
        request_id=request_id,
        user_id=ctx.user_id,
    )
    s.add(task)
    return task


def begin(s: Session, task_id: str) -> bool:
    """`pending → processing`; False when the task is not pending any more."""
    return _move(s, task_id, ("pending",), status="processing")


def succeed(s: Session, task_id: str, result: dict[str, Any]) -> bool:
    return _move(s, task_id, UNFINISHED, status="success", result=result, end=True)


def fail(s: Session, task_id: str, message: str) -> bool:
    return _move(s, task_id, UNFINISHED, status="failure", message=message, end=True)


def _move(
    s: Session, task_id: str, sources: tuple[str, ...], end: bool = False, **values: Any
) -> bool:
    now = utcnow()
    if end:
        values["expires_at"] = now + TTL
    result = s.execute(
        update(ImageTask)
        .where(ImageTask.id == task_id, ImageTask.status.in_(sources))
        .values(updated_at=now, **values)
    )
    return bool(getattr(result, "rowcount", 0))


def live(now: dt.datetime | None = None) -> ColumnElement[bool]:
    """Tasks not expired yet (unfinished ones never expire)."""
    now = now or utcnow()
    return or_(ImageTask.expires_at.is_(None), ImageTask.expires_at >= now)


def purge_expired(s: Session) -> int:
    result = s.execute(delete(ImageTask).where(ImageTask.expires_at < utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


def fail_unfinished(s: Session, message: str) -> int:
    """End every unfinished task as a failure (after a crash interrupted them)."""
    now = utcnow()
    result = s.execute(
        update(ImageTask)
        .where(ImageTask.status.in_(UNFINISHED))
        .values(status="failure", message=message, updated_at=now, expires_at=now + TTL)
    )
    return int(getattr(result, "rowcount", 0) or 0)
