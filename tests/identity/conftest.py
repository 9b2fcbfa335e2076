"""An in-process API (all routers) on SQLite, and on PostgreSQL, with identity
bootstrapped, plus helpers to get tokens. Tests use unique names, so one cloud per
backend serves the whole session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from stackbox import config as sbconfig
from stackbox.api.app import build_app
from stackbox.api.server import make_state, prepare_database
from stackbox.identity.bootstrap import bootstrap


@dataclass
class Cloud:
    client: TestClient
    state: object
    admin_password: str
    demo_password: str

    def token(
        self,
        user: str = "admin",
        password: str | None = None,
        project: str | None = "admin",
        domain: str = "Default",
    ) -> str:
        if password is None:
            password = self.admin_password if user == "admin" else self.demo_password
        body: dict = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": user, "domain": {"name": domain}, "password": password}
                    },
                }
            }
        }
        if project:
            body["auth"]["scope"] = {"project": {"name": project, "domain": {"name": domain}}}
        r = self.client.post("/identity/v3/auth/tokens", json=body)
        assert r.status_code == 201, r.text
        return r.headers["X-Subject-Token"]

    def headers(self, token: str) -> dict:
        return {"X-Auth-Token": token}


def _make_cloud(tmp: str, url: str | None) -> Iterator[Cloud]:
    env = {
        "STACKBOX_DEFAULT__STATE_DIR": tmp,
        "STACKBOX_IDENTITY__PASSWORD_HASH_MEMORY_KIB": "1024",
        "STACKBOX_IDENTITY__PASSWORD_HASH_TIME_COST": "1",
        "STACKBOX_API__PORT": "18080",
    }
    if url:
        env["STACKBOX_DATABASE__CONNECTION"] = url
    cfg = sbconfig.load(env=env)
    db = prepare_database(cfg)
    state = make_state(cfg, db)
    with db.session() as s:
        creds = bootstrap(s, cfg)
    app = build_app(state)
    with TestClient(app, base_url="http://127.0.0.1:18080") as client:
        yield Cloud(client, state, creds.admin_password, creds.demo_password)
    db.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def cloud(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cloud]:
    url = None
    if request.param == "postgres":
        try:
            url = request.getfixturevalue("pg_url")
        except pytest.FixtureLookupError:
            pytest.skip("no pg_url fixture")
    yield from _make_cloud(str(tmp_path_factory.mktemp(f"cloud-{request.param}")), url)


@pytest.fixture
def admin(cloud: Cloud) -> dict:
    return cloud.headers(cloud.token())


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
