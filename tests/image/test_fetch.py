"""Downloads connect to the addresses the filter checked (not a second lookup), with
the name in the Host header; the response's announced size."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from stackbox.image import fetch
from stackbox.image.import_filter import ImportFilter


@pytest.fixture
def server() -> Iterator[tuple[int, list[str]]]:
    hosts: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hosts.append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1], hosts
    srv.shutdown()
    srv.server_close()


def test_connects_to_the_checked_address(server: tuple[int, list[str]]) -> None:
    port, hosts = server
    flt = ImportFilter(allowed_ports=(port,), allow_internal_hosts=True)
    url = f"http://images.example.com:{port}/disk"  # a name no resolver knows

    async def main() -> tuple[bytes, int | None]:
        async with fetch.open_url(url, flt, lambda host: ["127.0.0.1"]) as resp:
            return await resp.aread(), fetch.declared_size(resp)

    assert anyio.run(main) == (b"hello", 5)
    assert hosts == [f"images.example.com:{port}"]


def test_declared_size() -> None:
    def size(**headers: str) -> int | None:
        return fetch.declared_size(httpx.Response(200, headers=headers))

    assert size() is None
    assert size(**{"content-length": "12"}) == 12
    assert size(**{"content-length": "x"}) is None
    assert size(**{"content-length": "12", "content-encoding": "gzip"}) is None
