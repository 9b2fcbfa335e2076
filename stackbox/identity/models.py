"""Identity tables: domains, projects, users, groups, roles, implied roles, assignments,
application credentials and their access rules, the catalog, token revocations and the
identity revision counter. Data only; no logic here."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from stackbox.db.base import ID, NAME, Base, new_id, utcnow


class Domain(Base):
    __tablename__ = "domains"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME)
    domain_id: Mapped[str] = mapped_column(ID, ForeignKey("domains.id"), index=True)
    parent_id: Mapped[str | None] = mapped_column(ID, index=True)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    tags: Mapped[list] = mapped_column(default=list)
    extra: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME)
    domain_id: Mapped[str] = mapped_column(ID, ForeignKey("domains.id"), index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_changed_at: Mapped[dt.datetime | None] = mapped_column()
    default_project_id: Mapped[str | None] = mapped_column(ID)
    description: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(255))
    extra: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME)
    domain_id: Mapped[str] = mapped_column(ID, ForeignKey("domains.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict] = mapped_column(default=dict)


class GroupMembership(Base):
    __tablename__ = "group_memberships"
    user_id: Mapped[str] = mapped_column(
        ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        ID, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Role(Base):
    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("name", "domain_id"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME)
    # NULL for global roles. (A unique constraint does not treat NULLs as equal, so the
    # API checks global name uniqueness itself.)
    domain_id: Mapped[str | None] = mapped_column(ID)
    description: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict] = mapped_column(default=dict)
    extra: Mapped[dict] = mapped_column(default=dict)


class ImpliedRole(Base):
    """A role inference rule: whoever holds the prior role also holds the implied one."""

    __tablename__ = "implied_roles"
    prior_role_id: Mapped[str] = mapped_column(
        ID, ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    implied_role_id: Mapped[str] = mapped_column(
        ID, ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Assignment(Base):
    """A role granted to an actor (user or group) on a target (project, domain, system)."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index("ix_assignments_target", "target_id"),
        Index("ix_assignments_role", "role_id"),
    )
    # type: UserProject, GroupProject, UserDomain, GroupDomain, UserSystem, GroupSystem
    type: Mapped[str] = mapped_column(String(16), primary_key=True)
    actor_id: Mapped[str] = mapped_column(ID, primary_key=True)
    target_id: Mapped[str] = mapped_column(ID, primary_key=True)
    role_id: Mapped[str] = mapped_column(
        ID, ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    inherited: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=False)


class Region(Base):
    __tablename__ = "regions"
    id: Mapped[str] = mapped_column(NAME, primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    parent_region_id: Mapped[str | None] = mapped_column(NAME)
    extra: Mapped[dict] = mapped_column(default=dict)


class CatalogService(Base):
    __tablename__ = "catalog_services"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(NAME, index=True)
    name: Mapped[str | None] = mapped_column(NAME)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict] = mapped_column(default=dict)


class CatalogEndpoint(Base):
    __tablename__ = "catalog_endpoints"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(
        ID, ForeignKey("catalog_services.id", ondelete="CASCADE"), index=True
    )
    interface: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    region_id: Mapped[str | None] = mapped_column(NAME)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict] = mapped_column(default=dict)


class RevocationEvent(Base):
    """Tokens matching an event and issued before `issued_before` are invalid:
    by audit id (one token), by user (password change, disable, delete), or by project."""

    __tablename__ = "revocation_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    audit_id: Mapped[str | None] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(ID, index=True)
    project_id: Mapped[str | None] = mapped_column(ID)
    issued_before: Mapped[dt.datetime] = mapped_column()
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class IdentityRevision(Base):
    """One row whose counter goes up on every identity write that can change what a
    token means (roles, users, projects, revocations). API processes compare it to
    drop their token caches: how scale-out API hosts see each other's changes."""

    __tablename__ = "identity_revision"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)


# Microseconds kept on every backend (MySQL's DATETIME drops them by default): an
# application credential's expires_at is echoed back exactly as it was given.
PRECISE_TIME = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


class ApplicationCredential(Base):
    """A secret a user delegates to an application: a token for its project, with a
    subset of the user's roles there, optionally limited to some API calls."""

    __tablename__ = "application_credentials"
    __table_args__ = (UniqueConstraint("user_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME)
    description: Mapped[str | None] = mapped_column(Text)
    secret_hash: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str | None] = mapped_column(ID, index=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(PRECISE_TIME)
    unrestricted: Mapped[bool] = mapped_column(Boolean, default=False)
    role_ids: Mapped[list] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AccessRule(Base):
    """One API call pattern (service type, method, path glob) a user's application
    credentials may be limited to; shared by the credentials that name it."""

    __tablename__ = "access_rules"
    __table_args__ = (UniqueConstraint("user_id", "service", "path", "method"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    service: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(16))


class AppCredAccessRule(Base):
    __tablename__ = "app_cred_access_rules"
    app_cred_id: Mapped[str] = mapped_column(
        ID, ForeignKey("application_credentials.id", ondelete="CASCADE"), primary_key=True
    )
    access_rule_id: Mapped[str] = mapped_column(
        ID, ForeignKey("access_rules.id"), primary_key=True, index=True
    )
