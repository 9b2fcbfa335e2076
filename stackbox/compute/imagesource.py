"""Where a compute host gets image data from: the `ImageSource` interface and its drivers.

A source only moves bytes: `fetch(image_id, dest)` creates `dest` and streams the image's
data into it, never holding the whole image in memory. Verification, naming, locking and
caching belong to `imagecache.py`; image metadata (checksums, sizes) is the caller's to
pass there. No database access here.

Drivers:

* `HttpImageSource` -- the Image API (`GET {endpoint}/v2/images/{id}/file`), the real one.
* `FileImageSource` -- copies `<directory>/<image_id>`: the fake registered like a real
  driver, used by tests and by all-in-one hosts whose image store is a local directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import quote

import httpx

CHUNK_SIZE = 1 << 20  # 1 MiB

Token = Callable[[], Awaitable[str]] | Callable[[], str] | str


class ImageError(Exception):
    """Base of the image cache's errors."""


class ImageNotFound(ImageError):
    """The source has no image (or no data) by that id."""

    def __init__(self, image_id: str, detail: str = "") -> None:
        self.image_id = image_id
        super().__init__(f"image {image_id} not found" + (f": {detail}" if detail else ""))


class ImageFetchError(ImageError):
    """Fetching the image failed; `status` is the HTTP status when there was one."""

    def __init__(self, image_id: str, message: str, status: int | None = None) -> None:
        self.image_id, self.status = image_id, status
        prefix = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"cannot fetch image {image_id}: {prefix}{message}")


@runtime_checkable
class ImageSource(Protocol):
    """Streams an image's data into a new file."""

    async def fetch(self, image_id: str, dest: Path) -> None:
        """Create `dest` and write the image's data into it. On failure `dest` is removed
        and `ImageNotFound` or `ImageFetchError` is raised."""
        ...


def _check_id(image_id: str) -> None:
    if not image_id or "/" in image_id or "\x00" in image_id or image_id in (".", ".."):
        raise ImageNotFound(image_id, "not a valid image id")


class HttpImageSource:
    """Downloads from the Image API v2 with a token (`X-Auth-Token`).

    `image_endpoint` is the catalog URL of the image service (e.g.
    `http://controller:8080/image`); `token` is a string or a (sync or async) callable
    asked for a token before each download, so expiring tokens can be refreshed. Pass
    `client` to share a connection pool; otherwise one client is made per download.
    """

    def __init__(
        self,
        image_endpoint: str,
        token: Token,
        client: httpx.AsyncClient | None = None,
        *,
        timeout: float = 60.0,
    ) -> None:
        self.image_endpoint = image_endpoint.rstrip("/")
        self._token = token
        self._client = client
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))

    def url(self, image_id: str) -> str:
        return f"{self.image_endpoint}/v2/images/{quote(image_id, safe='')}/file"

    async def _get_token(self) -> str:
        if isinstance(self._token, str):
            return self._token
        value = self._token()
        if inspect.isawaitable(value):
            value = await value
        return value

    async def fetch(self, image_id: str, dest: Path) -> None:
        _check_id(image_id)
        headers = {"X-Auth-Token": await self._get_token(), "Accept": "application/octet-stream"}
        async with contextlib.AsyncExitStack() as stack:
            client = self._client
            if client is None:
                client = await stack.enter_async_context(httpx.AsyncClient(timeout=self._timeout))
            try:
                resp = await stack.enter_async_context(
                    client.stream("GET", self.url(image_id), headers=headers)
                )
                _check_status(image_id, resp)
                await _stream_to_file(resp, dest)
            except httpx.HTTPError as exc:
                raise ImageFetchError(image_id, f"{type(exc).__name__}: {exc}") from exc


def _check_status(image_id: str, resp: httpx.Response) -> None:
    if resp.status_code == 404:
        raise ImageNotFound(image_id)
    if resp.status_code == 204:  # Glance: the image has no data yet
        raise ImageNotFound(image_id, "the image has no data")
    if not 200 <= resp.status_code < 300:
        raise ImageFetchError(image_id, resp.reason_phrase or "error", status=resp.status_code)


async def _stream_to_file(resp: httpx.Response, dest: Path) -> None:
    """Write the body to `dest` chunk by chunk (disk writes in a worker thread)."""
    fh = open(dest, "xb")  # noqa: SIM115 -- closed below, also on cancellation
    try:
        async for chunk in resp.aiter_bytes(CHUNK_SIZE):
            await asyncio.to_thread(fh.write, chunk)
        fh.close()
    except BaseException:
        fh.close()
        with contextlib.suppress(FileNotFoundError):
            dest.unlink()
        raise


class FileImageSource:
    """Copies `<directory>/<image_id>` (the image store's layout, `STATE_DIR/images`).

    The fake image source, registered like a real driver: tests use it, and so does an
    all-in-one host, whose image store is on the same disk.
    """

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    async def fetch(self, image_id: str, dest: Path) -> None:
        _check_id(image_id)
        src = self.directory / image_id
        if not src.is_file():
            raise ImageNotFound(image_id, f"no file {src}")
        try:
            await asyncio.to_thread(_copy, src, dest)
        except FileNotFoundError as exc:  # deleted between the check and the copy
            raise ImageNotFound(image_id, str(exc)) from exc
        except OSError as exc:
            raise ImageFetchError(image_id, str(exc)) from exc


def _copy(src: Path, dest: Path) -> None:
    with open(src, "rb") as fin:
        fout = open(dest, "xb")  # noqa: SIM115 -- closed by the with below
        try:
            with fout:
                shutil.copyfileobj(fin, fout, CHUNK_SIZE)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                dest.unlink()
            raise
