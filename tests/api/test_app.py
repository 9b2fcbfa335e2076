"""The HTTP stack with a throwaway router: error shapes per style, 405/404, body limits,
schema validation, request ids, unexpected errors as 500s in the service's shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import literal, select
from starlette.testclient import TestClient

from stackbox import config
from stackbox.api import errors
from stackbox.api.app import build_app
from stackbox.api.framework import Req, Router
from stackbox.api.server import make_state, prepare_database


def _router(style: str, prefix: str) -> Router:
    r = Router(style, prefix=prefix, style=style, policy_defaults={"x:get": "role:admin"})

    @r.route("GET", "/boom", auth=False)
    def boom(req: Req) -> dict:
        raise RuntimeError("internal detail that must not leak")

    @r.route("GET", "/missing", auth=False)
    def missing(req: Req) -> dict:
        raise errors.NotFound("no such thing")

    @r.route(
        "POST",
        "/things",
        auth=False,
        status=201,
        schema={
            "type": "object",
            "required": ["thing"],
            "properties": {
                "thing": {
                    "type": "object",
                    "required": ["size"],
                    "properties": {"size": {"type": "integer"}},
                }
            },
        },
    )
    def create(req: Req) -> dict:
        return {"thing": req.body["thing"]}

    # Glance publishes its schemas without a top-level "type"
    @r.route("POST", "/tags", auth=False, schema={"properties": {"name": {"type": "string"}}})
    def tag(req: Req) -> dict:
        return {"name": req.body.get("name")}

    @r.route("GET", "/count", auth=False)
    def count(req: Req) -> dict:
        # an unchecked integer from the query, compared in SQL
        n = int(req.query.get("n", "0"))
        return {"n": req.db.scalar(select(literal(n)))}

    @r.route("GET", "/private")
    def private(req: Req) -> dict:
        req.authorize("x:get")
        return {}

    @r.route("DELETE", "/things/{tid}", auth=False)
    def delete(req: Req) -> None:
        return None

    return r


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    cfg = config.load(
        env={
            "STACKBOX_DEFAULT__STATE_DIR": str(tmp_path),
            "STACKBOX_API__MAX_REQUEST_BODY_SIZE": "1000",
        }
    )
    db = prepare_database(cfg)
    state = make_state(cfg, db)
    app = build_app(
        state,
        [
            _router("compute", "/compute"),
            _router("network", "/networking"),
            _router("identity", "/identity"),
        ],
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    db.dispose()


def test_error_shapes_per_style(client: TestClient) -> None:
    assert client.get("/compute/missing").json() == {
        "itemNotFound": {"code": 404, "message": "no such thing"}
    }
    assert client.get("/networking/missing").json() == {
        "NeutronError": {"type": "HTTPNotFound", "message": "no such thing", "detail": ""}
    }
    assert client.get("/identity/missing").json() == {
        "error": {"code": 404, "title": "Not Found", "message": "no such thing"}
    }


def test_unexpected_error_is_500_without_details(client: TestClient) -> None:
    r = client.get("/compute/boom")
    assert r.status_code == 500
    assert "computeFault" in r.json()
    assert "internal detail" not in r.text


def test_unknown_route_and_method(client: TestClient) -> None:
    r = client.get("/compute/nothing/here")
    assert r.status_code == 404 and "itemNotFound" in r.json()
    r = client.put("/compute/boom")
    assert r.status_code == 405 and r.json()["badMethod"]["code"] == 405
    assert client.get("/elsewhere").status_code == 404


def test_body_validation(client: TestClient) -> None:
    ok = client.post("/compute/things", json={"thing": {"size": 3}})
    assert ok.status_code == 201 and ok.json() == {"thing": {"size": 3}}
    r = client.post("/compute/things", json={"thing": {"size": "big"}})
    assert r.status_code == 400 and "thing.size" in r.json()["badRequest"]["message"]
    r = client.post("/compute/things", content=b"[1,", headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = client.post("/compute/things")
    assert r.status_code == 400
    r = client.post("/compute/things", content=b"x" * 2000)
    assert r.status_code == 413 and r.json()["overLimit"]["code"] == 413


def test_auth_required_and_request_id(client: TestClient) -> None:
    r = client.get("/compute/private")
    assert r.status_code == 401 and r.json()["unauthorized"]["code"] == 401
    ids = {client.get("/compute/missing").headers["x-openstack-request-id"] for _ in range(3)}
    assert len(ids) == 3 and all(i.startswith("req-") for i in ids)


def test_delete_returns_204_without_body(client: TestClient) -> None:
    r = client.delete("/compute/things/1")
    assert r.status_code == 204 and r.content == b""


def test_schema_without_type_still_wants_an_object(client: TestClient) -> None:
    # `true` passed such a schema and reached a handler calling body.get: a 500
    assert client.post("/compute/tags", json={"name": "a"}).json() == {"name": "a"}
    for raw in (b"true", b"1", b"[]", b"null", b'"x"'):
        r = client.post("/compute/tags", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400, (raw, r.text)


def test_nul_in_the_url_is_a_400(client: TestClient) -> None:
    # on PostgreSQL a NUL in a path id or a query filter was a 500 (DataError)
    assert client.delete("/compute/things/1").status_code == 204
    assert client.delete("/compute/things/a%00b").status_code == 400
    assert client.delete("/compute/things/1?x=%00").status_code == 400
    assert client.delete("/compute/things/1?%00=x").status_code == 400


def test_a_number_the_database_cannot_hold_is_a_400(client: TestClient) -> None:
    # ?size_min=2**63 on GET /image/v2/images was a 500 (OverflowError from SQLite)
    assert client.get("/compute/count?n=5").json() == {"n": 5}
    r = client.get(f"/compute/count?n={2**63}")
    assert r.status_code == 400 and "out of range" in r.json()["badRequest"]["message"]
