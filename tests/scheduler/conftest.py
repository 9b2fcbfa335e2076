"""`db`: a migrated Database with empty compute_nodes, allocations and services, on
SQLite and PostgreSQL (module-shared schema, emptied before each test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete

from stackbox.compute.models import Allocation, ComputeNode
from stackbox.db import Database
from stackbox.service.models import ServiceRecord


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    db = Database(database_url, pool_size=20)
    with db.session() as s:
        s.execute(delete(Allocation))
        s.execute(delete(ComputeNode))
        s.execute(delete(ServiceRecord))
    yield db
    db.dispose()
