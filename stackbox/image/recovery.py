"""Finish what a crash of the (single) API process left half-done in the image store:
temporary upload files are removed, images caught in `saving` or `importing` go to
`killed` (their data never became complete, so they never become `active`) except
those of an interrupted web-download, which go back to `queued` as after any failed
download (Glance's outcome: the import may be tried again), and the import tasks they
were running end as failures.

Only for the all-in-one process: in scale-out another API host may be uploading right
now, so there the operator runs it (the same function) when no upload is in progress.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from stackbox.config import Config
from stackbox.db import Database
from stackbox.db.base import utcnow
from stackbox.image import tasks
from stackbox.image.api import common
from stackbox.image.models import Image, ImageTask
from stackbox.image.store import ImageStore

LOG = logging.getLogger(__name__)


def recover(cfg: Config, db: Database) -> tuple[int, int]:
    """(temporary files removed, images marked killed)."""
    store = ImageStore(cfg.state_dir / "images")
    files = 0
    for path in store.leftovers():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            files += 1
    with db.session() as s:
        requeued = _requeue_web_downloads(s)
        result = s.execute(
            update(Image)
            .where(Image.status.in_(("saving", "importing")))
            .values(status="killed", updated_at=utcnow())
        )
        killed = int(getattr(result, "rowcount", 0) or 0)
        failed = tasks.fail_unfinished(s, "The import was interrupted by a restart.")
    if files or killed or failed:
        LOG.warning(
            "image store recovery: removed %d partial upload file(s), marked %d "
            "interrupted image(s) killed, %d queued again, and %d import task(s) failed",
            files,
            killed,
            requeued,
            failed,
        )
    return files, killed


def _method(task_input: Any) -> Any:
    """The import method a task's input names (None when it names none)."""
    req = task_input.get("import_req") if isinstance(task_input, dict) else None
    method = req.get("method") if isinstance(req, dict) else None
    return method.get("name") if isinstance(method, dict) else None


def _requeue_web_downloads(s: Session) -> int:
    """Images of unfinished web-download tasks: `importing → queued`, the store
    marked failed."""
    unfinished = s.scalars(
        select(ImageTask).where(
            ImageTask.type == tasks.IMPORT, ImageTask.status.in_(tasks.UNFINISHED)
        )
    )
    count = 0
    for task in unfinished:
        if task.image_id is None or _method(task.input) != "web-download":
            continue
        back = common.updated(
            s,
            update(Image)
            .where(Image.id == task.image_id, Image.status == "importing")
            .values(status="queued", updated_at=utcnow()),
        )
        if back:
            common.import_progress(s, task.image_id, importing=False, failed=True)
            count += 1
    return count
