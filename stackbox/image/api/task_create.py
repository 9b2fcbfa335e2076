"""POST /v2/tasks (Glance's legacy task API: an `import` task downloads a URL into a
new image) and DELETE /v2/tasks/{id} (refused with 405, as Glance: tasks go away when
they expire).

Both need `tasks_api_access` (admin-only by default), checked before the body is read,
as Glance does. A create then wants `type` and `input`, checks the body against the task
schema (400), and `import_from` against the import filter
(`stackbox/image/import_filter.py`): a URL that does not pass is a 400 with Glance's
message. Only `import` tasks are created here; the others belong to image imports
(POST /v2/images/{id}/import). The task is recorded `pending`, answered 201, and its
work runs in the background (`legacy_import.py`); clients poll GET /v2/tasks/{id}."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.responses import JSONResponse

from stackbox import log as sblog
from stackbox.api import errors
from stackbox.api.context import RequestContext
from stackbox.api.framework import Req, Router, read_json, validate
from stackbox.image import import_filter, tasks
from stackbox.image.api import downloads, legacy_import, upload
from stackbox.image.api.tasks import TASK_SCHEMA, task_view
from stackbox.image.import_filter import Refused
from stackbox.image.models import ImageTask

# Glance checks a new task against the whole task schema, unknown members refused.
CREATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": TASK_SCHEMA["properties"],
    "additionalProperties": False,
}
REQUIRED = ("type", "input")
DELETE_REFUSED = (
    "This operation is currently not permitted on Glance Tasks. They are auto deleted "
    "after reaching the time based on their expires_at property."
)


def _check_body(body: Any) -> dict[str, Any]:
    """The task's input, once the body is an acceptable `import` task (else 400)."""
    if body is None:
        raise errors.BadRequest("Body expected in request.")
    if isinstance(body, dict):
        for key in REQUIRED:
            if key not in body:
                raise errors.BadRequest(f"Task '{key}' is required")
    validate(CREATE_SCHEMA, body)
    if body["type"] != tasks.LEGACY_IMPORT:
        raise errors.BadRequest(
            f"Tasks of type {body['type']} are not created through the tasks API: "
            "use POST /v2/images/{image_id}/import."
        )
    return body["input"] or {}


async def _check_source(req: Req, task_input: dict[str, Any]) -> None:
    """`import_from` passes the import filter (400 with Glance's message otherwise)."""
    try:
        url = import_filter.check_location(task_input.get("import_from"))
    except Refused as exc:
        raise errors.BadRequest(str(exc)) from None
    await downloads.check_url(req, url, import_filter.LEGACY)


def _add(s: Session, ctx: RequestContext, task_input: dict[str, Any], rid: str) -> ImageTask:
    return tasks.new_task(s, ctx, tasks.LEGACY_IMPORT, task_input, rid)


async def create_task(req: Req) -> JSONResponse:
    req.authorize("tasks_api_access")
    body = await read_json(req.raw, req.state.cfg.get("api", "max_request_body_size"))
    task_input = _check_body(body)
    await _check_source(req, task_input)
    rid = sblog.request_id.get() or ""
    task = await upload.db_call(req, _add, req.context, task_input, rid)
    legacy_import.start(req, task.id, task_input)
    return JSONResponse(
        task_view(task), status_code=201, headers={"Location": f"/v2/tasks/{task.id}"}
    )


async def delete_task(req: Req) -> None:
    req.authorize("tasks_api_access")
    raise errors.MethodNotAllowed(DELETE_REFUSED, headers={"Allow": "GET"})


def register(router: Router) -> None:
    router.route("POST", "/v2/tasks", raw_body=True)(create_task)
    router.route("DELETE", "/v2/tasks/{task_id}")(delete_task)
