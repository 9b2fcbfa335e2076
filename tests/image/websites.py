"""A web server on 127.0.0.1 for the imports that download (the legacy import task,
web-download), and the `[image_import]` options that let imports reach it."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from typing import Any

from tests.identity.conftest import Cloud


class Site:
    """A web server on 127.0.0.1: /disk.qcow2, /garbage.qcow2, /slow.qcow2 (held until
    `release` is set), /away (a redirect to `redirect_to`), anything else 404."""

    def __init__(self, qcow2: bytes) -> None:
        self.qcow2 = qcow2
        self.redirect_to = ""
        self.release = threading.Event()
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/away":
                    self.send_response(302)
                    self.send_header("Location", site.redirect_to)
                    self.end_headers()
                    return
                body = {
                    "/disk.qcow2": site.qcow2,
                    "/slow.qcow2": site.qcow2,
                    "/garbage.qcow2": b"this is no qcow2 image" * 100,
                }.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                if self.path == "/slow.qcow2":
                    site.release.wait(30)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextlib.contextmanager
def options(cloud: Cloud, **values: object) -> Iterator[None]:
    cfg = cloud.state.cfg  # type: ignore[attr-defined]
    old = {name: cfg.get("image_import", name) for name in values}
    for name, value in values.items():
        cfg.set("image_import", name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            cfg.set("image_import", name, value)


@contextlib.contextmanager
def local_site(cloud: Cloud, site: Site, *ports: int) -> Iterator[None]:
    """The loopback restriction and the port list relaxed for the test server."""
    allowed = [80, 443, site.port, *ports]
    with options(cloud, allow_internal_hosts=True, allowed_ports=allowed):
        yield
