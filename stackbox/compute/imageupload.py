"""Upload of snapshot data to the Image API, on the instance owner's behalf.

`ImageUploader(image_endpoint, token_for)`: `upload(image_id, path, project_id, user_id)`
streams a file to `PUT {endpoint}/v2/images/{id}/file` (Content-Type
application/octet-stream, `X-Auth-Token` from `token_for(project_id, user_id)` -- the
conductor's service token), `delete(image_id, ...)` removes a queued image whose upload
failed, `list_images(params, ...)` lists images with Glance's query parameters (backup
rotation). The file is read in chunks, never held in memory.

Not here: taking the snapshot (snapshot.py), image metadata (the API created the image
record before casting to the compute host).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx

LOG = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
# A listing longer than this many pages is cut short (a runaway `next` chain).
MAX_PAGES = 100
TokenFor = Callable[[str, str], Awaitable[str]]


class ImageUploadError(Exception):
    """The Image API refused or failed the upload; `status` is the HTTP status if any."""

    def __init__(self, image_id: str, message: str, status: int | None = None) -> None:
        self.image_id, self.status = image_id, status
        prefix = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"cannot upload image {image_id}: {prefix}{message}")


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := await asyncio.to_thread(fh.read, CHUNK_SIZE):
            yield chunk


class ImageUploader:
    """Talks to the Image API (`image_endpoint`, e.g. http://controller:8080/image)."""

    def __init__(
        self,
        image_endpoint: str,
        token_for: TokenFor,
        *,
        timeout: float = 600.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.image_endpoint = image_endpoint.rstrip("/")
        self._token_for = token_for
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._transport = transport

    def _url(self, image_id: str, suffix: str = "") -> str:
        return f"{self.image_endpoint}/v2/images/{quote(image_id, safe='')}{suffix}"

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self._timeout, transport=self._transport)

    async def upload(self, image_id: str, path: Path, project_id: str, user_id: str) -> None:
        """Stream `path` as the image's data. Raises ImageUploadError."""
        headers = {
            "X-Auth-Token": await self._token_for(project_id, user_id),
            "Content-Type": "application/octet-stream",
            "Content-Length": str(Path(path).stat().st_size),
        }
        try:
            async with self._client() as client:
                resp = await client.put(
                    self._url(image_id, "/file"), headers=headers, content=_chunks(Path(path))
                )
        except httpx.HTTPError as exc:
            raise ImageUploadError(image_id, f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= resp.status_code < 300:
            raise ImageUploadError(image_id, resp.text[:200], status=resp.status_code)

    async def list_images(
        self, params: Mapping[str, str], project_id: str, user_id: str
    ) -> list[dict[str, Any]]:
        """Every image `GET /v2/images?<params>` lists, following Glance's `next` links
        (at most MAX_PAGES pages). Raises ImageUploadError."""
        headers = {"X-Auth-Token": await self._token_for(project_id, user_id)}
        url: str | None = f"{self.image_endpoint}/v2/images?{urlencode(dict(params))}"
        found: list[dict[str, Any]] = []
        async with self._client() as client:
            for _ in range(MAX_PAGES):
                if url is None:
                    break
                try:
                    resp = await client.get(url, headers=headers)
                except httpx.HTTPError as exc:
                    raise ImageUploadError("", f"{type(exc).__name__}: {exc}") from exc
                if resp.status_code != 200:
                    raise ImageUploadError("", resp.text[:200], status=resp.status_code)
                body = resp.json()
                found.extend(body.get("images") or [])
                nxt = body.get("next")
                url = f"{self.image_endpoint}{nxt}" if nxt else None
        return found

    async def delete(self, image_id: str, project_id: str, user_id: str) -> bool:
        """Delete the image (best effort: logs and returns False on failure)."""
        try:
            headers = {"X-Auth-Token": await self._token_for(project_id, user_id)}
            async with self._client() as client:
                resp = await client.delete(self._url(image_id), headers=headers)
        except Exception as exc:
            LOG.warning("cannot delete image %s: %s", image_id, exc)
            return False
        if resp.status_code in (204, 200, 404):
            return True
        LOG.warning("cannot delete image %s: HTTP %s", image_id, resp.status_code)
        return False
