"""Fixtures shared by every test folder.

* `pg_url`: one throwaway PostgreSQL database for the whole session (created on
  127.0.0.1:5432 as user postgres, dropped at the end). It is empty: migrate it, or
  make a schema of your own in it. Tests skip with a reason when the server is down.
* `sqlite_db`: a migrated SQLite Database in the test's tmp_path.
* `database_url`: parametrized over both -- a migrated, private database URL per test
  module-and-backend ("sqlite" in tmp, "postgres" as a fresh schema inside pg_url).
* `image_samples`: good and bad images of every inspected format (tests/samples.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackbox.db import Database, migrate
from tests.samples import ImageSample, make_samples

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432"


def _pg_admin():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty PostgreSQL database, dropped after the session."""
    name = f"sbx_test_{uuid.uuid4().hex[:10]}"
    try:
        with _pg_admin() as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except Exception as exc:  # any connection failure means "no server here"
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {exc.__class__.__name__}: {exc}")
    try:
        yield f"{PG_BASE}/{name}"
    finally:
        with _pg_admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def pg_schema_url(base: str) -> str:
    """A new schema inside the database at `base`; the URL puts it first on the
    search_path, so migrations there do not meet anyone else's tables."""
    import psycopg

    schema = f"s_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite Database of this test alone."""
    db = Database(f"sqlite:///{tmp_path}/stackbox.db")
    migrate.upgrade(db.engine)
    yield db
    db.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database URL shared by one test module, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db')}/stackbox.db"
    else:
        url = pg_schema_url(request.getfixturevalue("pg_url"))
    db = Database(url)
    try:
        migrate.upgrade(db.engine)
    finally:
        db.dispose()
    return url


@pytest.fixture(scope="session")
def image_samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ImageSample]:
    """Sample images by name, made once per session (tests/samples.py)."""
    return make_samples(tmp_path_factory.mktemp("image-samples"))
