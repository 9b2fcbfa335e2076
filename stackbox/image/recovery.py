"""Finish what a crash of the (single) API process left half-done in the image store:
temporary upload files are removed, and images caught in `saving` or `importing` go to
`killed` (their data never became complete, so they never become `active`), and the
import tasks they were running end as failures.

Only for the all-in-one process: in scale-out another API host may be uploading right
now, so there the operator runs it (the same function) when no upload is in progress.
"""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy import update

from stackbox.config import Config
from stackbox.db import Database
from stackbox.db.base import utcnow
from stackbox.image import tasks
from stackbox.image.models import Image
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
            "interrupted image(s) killed and %d import task(s) failed",
            files,
            killed,
            failed,
        )
    return files, killed
