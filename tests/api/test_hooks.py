"""A router's `prepare` and `decorate` hooks with a throwaway router: decorate sees what
prepare stored on every response the service answers, errors included, and no request
when the token (or the method) was refused first; prepare runs before the body is read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.responses import Response
from starlette.testclient import TestClient

from stackbox import config
from stackbox.api import errors
from stackbox.api.app import build_app
from stackbox.api.framework import Req, Router
from stackbox.api.server import make_state, prepare_database

SCHEMA = {"type": "object", "required": ["size"], "properties": {"size": {"type": "integer"}}}


def _prepare(req: Req) -> None:
    tag = req.headers.get("x-tag", "plain")
    req.raw.state.tag = tag
    if tag == "refuse":
        raise errors.NotAcceptable("tag refused")


def _decorate(req: Req | None, resp: Response) -> None:
    resp.headers["X-Seen"] = "no request" if req is None else req.raw.state.tag


def _router() -> Router:
    r = Router("compute", prefix="/svc", style="compute", decorate=_decorate, prepare=_prepare)

    @r.route("GET", "/ok", auth=False)
    def ok(req: Req) -> dict:
        return {"ok": True}

    @r.route("GET", "/missing", auth=False)
    def missing(req: Req) -> dict:
        raise errors.NotFound("no such thing")

    @r.route("POST", "/busy", auth=False)
    async def busy(req: Req) -> dict:
        raise errors.Conflict("busy")

    @r.route("GET", "/boom", auth=False)
    def boom(req: Req) -> dict:
        raise RuntimeError("unexpected")

    @r.route("POST", "/things", auth=False, schema=SCHEMA)
    def create(req: Req) -> dict:
        return {"size": req.body["size"]}

    @r.route("GET", "/private")
    def private(req: Req) -> dict:
        return {}

    return r


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    cfg = config.load(
        env={
            "STACKBOX_DEFAULT__STATE_DIR": str(tmp_path),
            "STACKBOX_API__MAX_REQUEST_BODY_SIZE": "1000",
        }
    )
    state = make_state(cfg, prepare_database(cfg))
    with TestClient(build_app(state, [_router()]), raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/ok", None, 200),
        ("GET", "/missing", None, 404),
        ("POST", "/busy", None, 409),
        ("GET", "/boom", None, 500),
        ("POST", "/things", {"size": "big"}, 400),
        ("POST", "/things", b"{not json", 400),
        ("POST", "/things", b"x" * 2000, 413),
    ],
)
def test_decorate_sees_the_prepared_request_on_every_answer(
    client: TestClient, method: str, path: str, body: object, status: int
) -> None:
    kw = {"content": body} if isinstance(body, bytes) else {"json": body}
    r = client.request(method, "/svc" + path, headers={"X-Tag": "v7"}, **kw)
    assert r.status_code == status, r.text
    assert r.headers["X-Seen"] == "v7"


def test_prepare_runs_before_the_body_is_read(client: TestClient) -> None:
    r = client.post("/svc/things", content=b"{not json", headers={"X-Tag": "refuse"})
    assert r.status_code == 406
    assert r.headers["X-Seen"] == "refuse"  # what prepare stored before it refused


def test_decorate_gets_no_request_when_refused_before_the_service(client: TestClient) -> None:
    for r in (
        client.get("/svc/private", headers={"X-Tag": "v7"}),  # no token
        client.get("/svc/private", headers={"X-Tag": "v7", "X-Auth-Token": "forged"}),
        client.delete("/svc/ok", headers={"X-Tag": "v7"}),  # no such method
    ):
        assert r.status_code in (401, 405), r.text
        assert r.headers["X-Seen"] == "no request"
