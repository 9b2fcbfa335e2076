"""Declarative base and column helpers shared by every service's models.

Each service defines its tables in `stackbox/<service>/models.py` on this `Base`, and
imports that module from `stackbox.db.models` so Alembic sees every table.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, DateTime, MetaData, String
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        dict: JSON,
        list: JSON,
        dt.datetime: DateTime(timezone=False),
    }


def new_id() -> str:
    """Keystone-style id: 32 lowercase hex characters."""
    return uuid.uuid4().hex


def utcnow() -> dt.datetime:
    """Naive UTC now, the form every table stores."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


ID = String(64)
NAME = String(255)
