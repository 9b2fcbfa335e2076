"""Downloading a URL into an image, in the background of the API process: what the
legacy `import` task (`legacy_import.py`) and the web-download import
(`web_download.py`) share.

- `check_url`: the request-time check of the URL against the import filter
  (`stackbox/image/import_filter.py`, Glance's `[import_filtering_opts]` as
  `[image_import]`), a 400 with Glance's message when it does not pass;
- `start`: runs the work as an asyncio task of this process's event loop (kept from
  the garbage collector until it ends); a restart interrupts it, and the image
  service's recovery ends its task as a failure (`stackbox/image/recovery.py`);
- `download`: fetches the URL (`stackbox/image/fetch.py`: checked again, redirects
  too, connections pinned to the checked addresses) into an image claimed for data,
  through the upload path (`upload.fill`: the same limits, hashes and format check);
- `failure_message`: what a failed import task records.

What happens to the image and the task on success or failure is each caller's."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import anyio.to_thread

from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.image import fetch, import_filter
from stackbox.image.api import upload
from stackbox.image.import_filter import ImportFilter, Refused

JOBS = "image.download_jobs"  # state.extras key: the running jobs


async def check_url(req: Req, url: object, purpose: str) -> str:
    """`url` when the import filter lets it through (BadRequest otherwise)."""
    flt = ImportFilter.from_config(req.state.cfg)
    try:
        target = await anyio.to_thread.run_sync(
            import_filter.check, url, flt, import_filter.resolve, purpose
        )
    except Refused as exc:
        raise errors.BadRequest(str(exc)) from None
    return target.url


def start(req: Req, work: Coroutine[Any, Any, None]) -> None:
    """Run `work` in the background of this process (call from the event loop)."""
    jobs: set[asyncio.Task] = req.state.extras.setdefault(JOBS, set())
    job = asyncio.get_running_loop().create_task(work)
    jobs.add(job)
    job.add_done_callback(jobs.discard)


async def download(
    req: Req,
    claimed: upload.Claim,
    url: str,
    purpose: str,
    on_commit: upload.OnCommit | None = None,
) -> None:
    """Store what `url` answers as the data of the claimed image (see `upload.fill`)."""
    flt = ImportFilter.from_config(req.state.cfg)
    async with fetch.open_url(url, flt, import_filter.resolve, purpose) as resp:
        declared = fetch.declared_size(resp)
        await upload.fill(req, claimed, resp.aiter_bytes(), declared, on_commit)


def failure_message(exc: BaseException) -> str:
    """The message of an import task that ended with `exc`."""
    if isinstance(exc, fetch.FetchError | Refused):
        return str(exc)
    if isinstance(exc, errors.ApiError):
        return exc.message
    if not isinstance(exc, Exception):
        return "The import was interrupted."
    return f"Error: {type(exc).__name__}: {exc}"
