"""Database access: engine, sessions, migrations. Models live with their service
(`stackbox/<service>/models.py`) on the one shared `Base` from `stackbox.db.base`."""

from stackbox.db.base import Base
from stackbox.db.engine import Database

__all__ = ["Base", "Database"]
