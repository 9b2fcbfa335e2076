"""`db`: a migrated Database with an empty services table, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete

from stackbox.db import Database
from stackbox.service.models import ServiceRecord


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    with db.session() as s:
        s.execute(delete(ServiceRecord))
    yield db
    db.dispose()
