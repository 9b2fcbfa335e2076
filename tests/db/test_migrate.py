"""The same Alembic migrations on SQLite, PostgreSQL and MariaDB: upgrade to head,
the schema matches the models, downgrade to nothing and back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

from stackbox.db import Database, migrate
from stackbox.db.models import metadata
from stackbox.identity.models import Domain

MARIADB_ADMIN = "mysql+pymysql://root@127.0.0.1:3306/"


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    name = f"sbx_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(MARIADB_ADMIN)
        with admin.connect() as c:
            c.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    except Exception as exc:  # any connection failure means "no server"
        pytest.skip(f"MariaDB not reachable at 127.0.0.1:3306: {exc.__class__.__name__}")
    yield f"{MARIADB_ADMIN}{name}?charset=utf8mb4"
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE {name}"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/m.db"
    elif request.param == "postgres":
        url = _fresh_pg(request)
    else:
        url = request.getfixturevalue("mariadb_url")
    db = Database(url)
    yield db.engine
    db.dispose()


def _fresh_pg(request: pytest.FixtureRequest) -> str:
    try:
        base = request.getfixturevalue("pg_url")
    except pytest.FixtureLookupError:
        pytest.skip("no pg_url fixture")
    # pg_url is shared by the session; migrations here need a schema of their own.
    eng = create_engine(base)
    schema = f"m_{uuid.uuid4().hex[:10]}"
    with eng.begin() as c:
        c.execute(text(f"CREATE SCHEMA {schema}"))
    eng.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def test_upgrade_matches_models_and_round_trips(engine: Engine) -> None:
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    tables = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= tables
    for name, table in metadata.tables.items():
        cols = {c["name"] for c in inspect(engine).get_columns(name)}
        assert cols == {c.name for c in table.columns}, name
    migrate.downgrade(engine, "base")
    assert not set(metadata.tables) & set(inspect(engine).get_table_names())
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()


def test_session_rolls_back_on_error(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    migrate.upgrade(engine)
    db = Database(str(engine.url.render_as_string(hide_password=False)))
    with pytest.raises(RuntimeError), db.session() as s:
        s.add(Domain(id="half", name="half-written"))
        s.flush()
        raise RuntimeError("crash in the middle")
    with db.session() as s:
        assert s.get(Domain, "half") is None
    db.dispose()
