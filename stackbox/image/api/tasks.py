"""Import task records, read-only: GET /v2/images/{id}/tasks (an image's tasks, for
whoever may get the image), GET /v2/tasks and /v2/tasks/{id} (the tasks API, admin-only
by default: `tasks_api_access`), and their schemas /v2/schemas/task[s].

As Glance renders them: an image's tasks are raw records (timestamps with
microseconds and no zone, `deleted` fields), the tasks API uses the task schema's
shape (`…Z` timestamps, `self`, `schema`). A caller sees the tasks of its own project
(admins all of them); expired tasks are gone. Records are written by imports
(`stackbox/image/tasks.py`) and by POST /v2/tasks (`task_create.py`)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import and_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.image import tasks
from stackbox.image.api import common
from stackbox.image.api.schemas import UUID_PATTERN
from stackbox.image.models import ImageTask

_STRING = {"type": "string"}
_READ_ONLY = {"readOnly": True, "type": "string"}
STUB_PROPERTIES: dict[str, Any] = {
    "id": {"description": "An identifier for the task", "pattern": UUID_PATTERN, **_STRING},
    "type": {
        "description": "The type of task represented by this content",
        "enum": list(tasks.TYPES),
        **_STRING,
    },
    "status": {
        "description": "The current status of this task",
        "enum": list(tasks.STATUSES),
        **_STRING,
    },
    "owner": {"description": "An identifier for the owner of this task", **_STRING},
    "image_id": {"description": "Image associated with the task", **_STRING},
    "request_id": {"description": "Human-readable informative request-id", **_STRING},
    "user_id": {"description": "User associated with the task", **_STRING},
    "expires_at": {
        "description": "Datetime when this resource would be subject to removal",
        "type": ["null", "string"],
    },
    "created_at": {"description": "Datetime when this resource was created", **_STRING},
    "updated_at": {"description": "Datetime when this resource was updated", **_STRING},
    "self": _READ_ONLY,
    "schema": _READ_ONLY,
}
TASK_SCHEMA: dict[str, Any] = {
    "name": "task",
    "properties": {
        **STUB_PROPERTIES,
        "input": {
            "description": "The parameters required by task, JSON blob",
            "type": ["null", "object"],
        },
        "result": {
            "description": "The result of current task, JSON blob",
            "type": ["null", "object"],
        },
        "message": {
            "description": "Human-readable informative message only included when "
            "appropriate (usually on failure)",
            **_STRING,
        },
    },
}
TASKS_SCHEMA: dict[str, Any] = {
    "name": "tasks",
    "properties": {
        "tasks": {"type": "array", "items": {"name": "task", "properties": STUB_PROPERTIES}},
        "schema": _STRING,
    },
    "links": [{"href": "{schema}", "rel": "describedby"}],
}
# Columns a list may sort on, and the ones it filters on by equality.
SORT_KEYS = (
    "id",
    "type",
    "status",
    "owner",
    "image_id",
    "request_id",
    "user_id",
    "expires_at",
    "created_at",
    "updated_at",
)
EQ_FILTERS = ("id", "type", "status", "owner", "image_id", "request_id", "user_id")


def _raw_ts(value: dt.datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def record_view(t: ImageTask) -> dict[str, Any]:
    """A task as GET /v2/images/{id}/tasks shows it (Glance's database record)."""
    return {
        "id": t.id,
        "type": t.type,
        "status": t.status,
        "owner": t.owner,
        "expires_at": _raw_ts(t.expires_at),
        "created_at": _raw_ts(t.created_at),
        "updated_at": _raw_ts(t.updated_at),
        "deleted_at": None,
        "deleted": False,
        "image_id": t.image_id,
        "request_id": t.request_id,
        "user_id": t.user_id,
        "input": t.input,
        "result": t.result,
        "message": t.message,
    }


def stub_view(t: ImageTask) -> dict[str, Any]:
    """A task in GET /v2/tasks."""
    out = {
        "id": t.id,
        "type": t.type,
        "status": t.status,
        "owner": t.owner,
        "created_at": common.ts(t.created_at),
        "updated_at": common.ts(t.updated_at),
        "self": f"/v2/tasks/{t.id}",
        "schema": "/v2/schemas/task",
    }
    if t.expires_at is not None:
        out["expires_at"] = common.ts(t.expires_at)
    return out


def task_view(t: ImageTask) -> dict[str, Any]:
    """A task in GET /v2/tasks/{id}: the stub plus input, result, message and its
    image, request and user when it has them."""
    out = stub_view(t)
    out.update(input=t.input, result=t.result, message=t.message)
    for name in ("image_id", "request_id", "user_id"):
        if getattr(t, name):
            out[name] = getattr(t, name)
    return out


def visible(req: Req) -> ColumnElement[bool]:
    """Live tasks the caller may see: all for admins, else its project's and unowned."""
    live = tasks.live()
    if req.context.is_admin:
        return live
    return and_(live, or_(ImageTask.owner == req.context.project_id, ImageTask.owner.is_(None)))


def image_tasks(req: Req) -> dict:
    image_id = req.params["image_id"]
    try:
        img = common.get_image(req, image_id)
        common.authorize(req, "get_image", img)
    except errors.Forbidden:
        raise common.not_found(image_id) from None
    q = select(ImageTask).where(ImageTask.image_id == img.id, visible(req))
    rows = req.db.scalars(q.order_by(ImageTask.created_at, ImageTask.id))
    return {"tasks": [record_view(t) for t in rows]}


def show_task(req: Req) -> dict:
    req.authorize("tasks_api_access")
    task_id = req.params["task_id"]
    task = req.db.scalars(select(ImageTask).where(ImageTask.id == task_id, tasks.live())).first()
    if task is None:
        raise errors.NotFound(f"Task with the given id {task_id} was not found")
    ctx = req.context
    if not (ctx.is_admin or task.owner is None or task.owner == ctx.project_id):
        raise errors.Forbidden(f"Forbidding request, task {task_id} is not visible")
    return task_view(task)


def list_tasks(req: Req) -> dict:
    """GET /v2/tasks: filters, one sort key (then created_at, id), marker paging."""
    req.authorize("tasks_api_access")
    q = req.query
    limit = common.page_limit(req)
    key, direction = q.get("sort_key", "created_at"), q.get("sort_dir", "desc")
    if direction not in ("asc", "desc"):
        raise errors.BadRequest(f"Invalid sort direction: {direction}")
    if key not in SORT_KEYS:
        raise errors.BadRequest("Sort key supplied was not valid.")
    keys = list(dict.fromkeys((key, "created_at", "id")))
    where = [visible(req), *_filters(req)]
    cols = [getattr(ImageTask, k) for k in keys]
    rows = sorted(req.db.execute(select(ImageTask.id, *cols).where(*where)), key=_order)
    if direction == "desc":
        rows.reverse()
    start = _after_marker(req, rows, cols, direction)
    page_ids = [r[0] for r in rows[start : start + limit]]
    by_id = {t.id: t for t in req.db.scalars(select(ImageTask).where(ImageTask.id.in_(page_ids)))}
    params = [(k, v) for k, v in q.multi_items() if k != "marker"]
    body: dict[str, Any] = {
        "tasks": [stub_view(by_id[i]) for i in page_ids if i in by_id],
        "first": "/v2/tasks" + (f"?{urlencode(params)}" if params else ""),
        "schema": "/v2/schemas/tasks",
    }
    if page_ids and len(page_ids) == limit:
        body["next"] = "/v2/tasks?" + urlencode([*params, ("marker", page_ids[-1])])
    return body


def _order(row: Any) -> tuple:
    """Ascending order of a row's sort values (None first)."""
    return tuple((v is not None, v) for v in tuple(row)[1:])


def _filters(req: Req) -> list[ColumnElement[bool]]:
    q = req.query
    status, kind = q.get("status"), q.get("type")
    if status and status not in tasks.STATUSES:
        raise errors.BadRequest(f"Invalid status value: {status}")
    if kind and kind not in tasks.TYPES:
        raise errors.BadRequest(f"Invalid type value: {kind}")
    return [getattr(ImageTask, n) == q[n] for n in EQ_FILTERS if q.get(n)]


def _after_marker(req: Req, rows: list, cols: list, direction: str) -> int:
    """Index of the first row after the marker task (400 for an unknown marker)."""
    marker = req.query.get("marker")
    if marker is None:
        return 0
    try:
        uuid.UUID(marker)
    except ValueError:
        raise errors.BadRequest("Invalid marker format") from None
    for i, r in enumerate(rows):
        if r[0] == marker:
            return i + 1
    found = req.db.execute(select(ImageTask.id, *cols).where(ImageTask.id == marker, visible(req)))
    mark = found.first()
    if mark is None:
        raise errors.BadRequest(f"Task with the given id {marker} was not found")
    after = _order(mark)
    for i, r in enumerate(rows):
        if (_order(r) > after) if direction == "asc" else (_order(r) < after):
            return i
    return len(rows)


def register(router: Router) -> None:
    router.route("GET", "/v2/images/{image_id}/tasks")(image_tasks)
    router.route("GET", "/v2/tasks")(list_tasks)
    router.route("GET", "/v2/tasks/{task_id}")(show_task)

    @router.route("GET", "/v2/schemas/task")
    async def task_schema(req: Req) -> dict:
        return TASK_SCHEMA

    @router.route("GET", "/v2/schemas/tasks")
    async def tasks_schema(req: Req) -> dict:
        return TASKS_SCHEMA
