"""Image tables: images, their extra properties, tags and members, and the records of
import tasks. Data only; the per-project storage usage is derived from `images.size`
(see `usage_of`), the task life cycle is in `stackbox/image/tasks.py`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from stackbox.db.base import NAME, Base, utcnow

# Statuses whose data counts against a project's storage quota.
COUNTED = ("saving", "active", "deactivated", "uploading", "importing")


class Image(Base):
    __tablename__ = "images"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(NAME)
    disk_format: Mapped[str | None] = mapped_column(String(32))
    container_format: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(30), index=True, default="queued")
    visibility: Mapped[str] = mapped_column(String(20), index=True, default="shared")
    size: Mapped[int | None] = mapped_column(BigInteger)
    virtual_size: Mapped[int | None] = mapped_column(BigInteger)
    checksum: Mapped[str | None] = mapped_column(String(32))
    os_hash_algo: Mapped[str | None] = mapped_column(String(64))
    os_hash_value: Mapped[str | None] = mapped_column(String(128))
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    os_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    min_disk: Mapped[int] = mapped_column(Integer, default=0)
    min_ram: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(NAME, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    properties: Mapped[list[ImageProperty]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ImageProperty.name"
    )
    tags: Mapped[list[ImageTag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ImageTag.value"
    )

    @property
    def extra(self) -> dict[str, str]:
        return {p.name: p.value for p in self.properties}


class ImageProperty(Base):
    __tablename__ = "image_properties"
    image_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(NAME, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ImageTag(Base):
    __tablename__ = "image_tags"
    image_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[str] = mapped_column(NAME, primary_key=True)


class ImageMember(Base):
    __tablename__ = "image_members"
    image_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    member: Mapped[str] = mapped_column(NAME, primary_key=True, index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ImageTask(Base):
    """An import's record, as Glance's `tasks` (with its `task_info`: input, result,
    message). `image_id` is no foreign key: like Glance's, a task outlives its image
    until it expires."""

    __tablename__ = "image_tasks"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(30), default="pending")
    input: Mapped[dict | None]
    result: Mapped[dict | None]
    message: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str | None] = mapped_column(NAME, index=True)
    image_id: Mapped[str | None] = mapped_column(String(36), index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def usage_of(s: Session, project_id: str, exclude: str | None = None) -> int:
    """Bytes of image data `project_id` stores (images being written included)."""
    q = select(func.coalesce(func.sum(Image.size), 0)).where(
        Image.owner == project_id, Image.status.in_(COUNTED)
    )
    if exclude is not None:
        q = q.where(Image.id != exclude)
    return int(s.scalar(q) or 0)
