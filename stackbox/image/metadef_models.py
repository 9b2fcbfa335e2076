"""Metadata definition (metadefs) tables of the Image API: namespaces and what they
hold (objects, properties, tags), the resource types and each namespace's association
with them (with the prefix its properties take on that resource type).

Data only: visibility, policy and the JSON shapes live in `stackbox/image/api/metadefs_*`;
the standard namespaces are loaded by `stackbox/image/metadef_load.py`. A namespace's
contents go with it (ON DELETE CASCADE); names are unique within their namespace, as in
Glance. Property and object-property schemas are stored as the JSON the API was given.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stackbox.db.base import NAME, Base, utcnow

NS_NAME = String(80)


class MetadefNamespace(Base):
    __tablename__ = "metadef_namespaces"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(NS_NAME, unique=True)
    display_name: Mapped[str | None] = mapped_column(NS_NAME)
    description: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(32), default="private")
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str] = mapped_column(NAME, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def _namespace_fk() -> Mapped[int]:
    return mapped_column(Integer, ForeignKey("metadef_namespaces.id", ondelete="CASCADE"))


class MetadefObject(Base):
    __tablename__ = "metadef_objects"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = _namespace_fk()
    name: Mapped[str] = mapped_column(NS_NAME)
    description: Mapped[str | None] = mapped_column(Text)
    required: Mapped[list[str] | None] = mapped_column(JSON)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MetadefProperty(Base):
    __tablename__ = "metadef_properties"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = _namespace_fk()
    name: Mapped[str] = mapped_column(NS_NAME)
    json_schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MetadefTag(Base):
    __tablename__ = "metadef_tags"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = _namespace_fk()
    name: Mapped[str] = mapped_column(NS_NAME)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MetadefResourceType(Base):
    __tablename__ = "metadef_resource_types"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(NS_NAME, unique=True)
    # The system types seeded at bootstrap (Glance's "protected" resource types).
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MetadefAssociation(Base):
    """A namespace applies to a resource type, its property names taking `prefix`."""

    __tablename__ = "metadef_namespace_resource_types"
    # Named explicitly: the convention's names exceed MariaDB's 64 characters.
    namespace_id: Mapped[int] = mapped_column(
        Integer,
        ForeignKey("metadef_namespaces.id", ondelete="CASCADE", name="fk_metadef_ns_rt_namespace"),
        primary_key=True,
    )
    resource_type_id: Mapped[int] = mapped_column(
        Integer,
        ForeignKey("metadef_resource_types.id", ondelete="CASCADE", name="fk_metadef_ns_rt_type"),
        primary_key=True,
        index=True,
    )
    prefix: Mapped[str | None] = mapped_column(NS_NAME)
    properties_target: Mapped[str | None] = mapped_column(NS_NAME)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
