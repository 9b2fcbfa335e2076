"""Downloading image data from a URL (a legacy `import` task's `import_from`, a
web-download import's `uri`).

Every URL, the first and each redirect's, goes through `import_filter.check` (a
redirect that does not pass ends the download: Glance's "Redirect to disallowed URL").
The connection goes to the addresses that check approved, never to a second lookup of
the name, with the name kept in the `Host` header and as the TLS server name (the
certificate is verified against it). Proxies from the environment are not used: they
would connect elsewhere than where the check looked.

No database and no image store here: `open_url` yields a streaming response."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from urllib.parse import urljoin

import anyio.to_thread
import httpx

from stackbox.image import import_filter
from stackbox.image.import_filter import ImportFilter, Refused, Resolver, Target

LOG = logging.getLogger(__name__)

MAX_REDIRECTS = 5
TIMEOUT = httpx.Timeout(60.0, connect=15.0)


class FetchError(Exception):
    """The data could not be fetched; `str()` says why, for the task's message."""


async def _checked(
    url: str, flt: ImportFilter, resolve: Resolver, purpose: str = import_filter.LEGACY
) -> Target:
    """`import_filter.check` in a worker thread (name lookups block)."""
    return await anyio.to_thread.run_sync(import_filter.check, url, flt, resolve, purpose)


async def _send(client: httpx.AsyncClient, target: Target) -> httpx.Response:
    """GET the target at its checked addresses, in turn, until one connects."""
    url = httpx.URL(target.url)
    host = url.netloc.decode("ascii")
    extensions = {"sni_hostname": target.host} if url.scheme == "https" else {}
    error: Exception | None = None
    for address in target.addresses:
        request = client.build_request(
            "GET",
            url.copy_with(host=address),
            headers={"Host": host},
            extensions=extensions,
        )
        try:
            return await client.send(request, stream=True)
        except httpx.TransportError as exc:
            LOG.info("import: %s at %s: %s", target.url, address, exc)
            error = exc
    raise FetchError(f"Could not connect to {target.url}: {error or 'no address'}")


@contextlib.asynccontextmanager
async def open_url(
    url: str,
    flt: ImportFilter,
    resolve: Resolver = import_filter.resolve,
    purpose: str = import_filter.LEGACY,
) -> AsyncIterator[httpx.Response]:
    """The 200 response of `url`, its body not read yet (FetchError for any other
    answer, Refused naming `purpose` when `url` itself does not pass)."""
    async with httpx.AsyncClient(timeout=TIMEOUT, trust_env=False) as client:
        target = await _checked(url, flt, resolve, purpose)
        for _ in range(MAX_REDIRECTS + 1):
            resp = await _send(client, target)
            if not resp.is_redirect:
                break
            await resp.aclose()
            location = urljoin(target.url, resp.headers.get("location", ""))
            target = await _redirect_target(location, flt, resolve)
        else:
            raise FetchError(f"Too many redirects (more than {MAX_REDIRECTS}) from {url}")
        try:
            if resp.status_code != 200:
                raise FetchError(
                    f"Could not download {target.url}: the server answered "
                    f"{resp.status_code} {resp.reason_phrase}"
                )
            yield resp
        finally:
            await resp.aclose()


async def _redirect_target(url: str, flt: ImportFilter, resolve: Resolver) -> Target:
    try:
        import_filter.check_location(url)
        return await _checked(url, flt, resolve)
    except Refused:
        raise FetchError(f"Redirect to disallowed URL: {url}") from None


def declared_size(resp: httpx.Response) -> int | None:
    """The body's size as the server announces it (None when it does not)."""
    raw = resp.headers.get("content-length")
    if raw is None or "content-encoding" in resp.headers:
        return None
    try:
        size = int(raw)
    except ValueError:
        return None
    return size if size >= 0 else None
