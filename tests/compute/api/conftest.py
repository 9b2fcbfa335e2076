"""The in-process cloud (SQLite and PostgreSQL, from tests/identity/conftest.py) with the
default flavors seeded, tokens of the admin and demo projects, and Compute API call
helpers that send a microversion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from stackbox.compute.bootstrap import ensure_default_flavors
from tests.conftest import pg_schema_url
from tests.identity.conftest import Cloud, _make_cloud, unique

__all__ = ["Cloud", "unique"]

API = "/compute/v2.1"


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def cloud(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cloud]:
    url = None
    if request.param == "postgres":
        # A schema of its own: other test folders bootstrap clouds into pg_url too.
        url = pg_schema_url(request.getfixturevalue("pg_url"))
    for c in _make_cloud(str(tmp_path_factory.mktemp(f"compute-{request.param}")), url):
        with c.state.db.session() as s:  # type: ignore[attr-defined]
            ensure_default_flavors(s)
        # quota: the session-wide cloud's demo project gets many servers; no quota here
        for name in ("instances", "cores", "ram"):
            c.state.cfg.set("quota", name, -1)  # type: ignore[attr-defined]
        yield c


@pytest.fixture(scope="session")
def admin(cloud: Cloud) -> dict:
    return cloud.headers(cloud.token())


@pytest.fixture(scope="session")
def demo(cloud: Cloud) -> dict:
    return cloud.headers(cloud.token("demo", project="demo"))


@pytest.fixture(scope="module")
def me(cloud: Cloud, demo: dict) -> Any:
    """The demo project's member, for the action tests (tests/compute/api/actions_helpers)."""
    from tests.compute.api.actions_helpers import who

    return who(cloud, demo)


@pytest.fixture(scope="module")
def boss(cloud: Cloud, admin: dict) -> Any:
    """The admin, for the action tests."""
    from tests.compute.api.actions_helpers import who

    return who(cloud, admin)


def mv(headers: dict, version: str | None) -> dict:
    """`headers` asking for compute microversion `version` (None: no header)."""
    if version is None:
        return headers
    return {**headers, "OpenStack-API-Version": f"compute {version}"}


def call(
    cloud: Cloud, method: str, path: str, headers: dict, version: str | None = None, **kw: Any
) -> Any:
    """One Compute API request; `path` is relative to /compute/v2.1."""
    return cloud.client.request(method, API + path, headers=mv(headers, version), **kw)


def token_info(cloud: Cloud, headers: dict) -> dict:
    r = cloud.client.get(
        "/identity/v3/auth/tokens",
        headers={**headers, "X-Subject-Token": headers["X-Auth-Token"]},
    )
    return r.json()["token"]


def new_flavor(cloud: Cloud, admin: dict, version: str | None = None, **body: Any) -> dict:
    """Create a flavor (admin) with a unique name; returns the response's flavor."""
    body.setdefault("name", unique("f"))
    body.setdefault("ram", 256)
    body.setdefault("vcpus", 1)
    body.setdefault("disk", 1)
    r = call(cloud, "POST", "/flavors", admin, version, json={"flavor": body})
    assert r.status_code == 200, r.text
    return r.json()["flavor"]
