"""The service registry table (Nova's `services`): one row per (binary, host)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stackbox.db.base import NAME, Base, utcnow


class ServiceRecord(Base):
    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("binary", "host"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    binary: Mapped[str] = mapped_column(NAME)  # e.g. stackbox-conductor
    topic: Mapped[str] = mapped_column(NAME)  # e.g. conductor
    host: Mapped[str] = mapped_column(NAME)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    forced_down: Mapped[bool] = mapped_column(Boolean, default=False)
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    last_seen_up: Mapped[dt.datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)
