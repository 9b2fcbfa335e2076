"""Identity tables beyond the core ones: credentials (EC2 included), v3 policies,
domain-specific configuration, endpoint groups and their projects, OAuth1 consumers,
and trusts with their delegated roles. Data only; no logic here."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stackbox.db.base import ID, NAME, Base, new_id, utcnow


class Credential(Base):
    """A user's secret (`ec2`, `totp`, `cert`, …). The blob is kept only encrypted
    (Fernet, credential keys); `key_hash` names the key that encrypted it."""

    __tablename__ = "credentials"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ID, index=True)
    project_id: Mapped[str | None] = mapped_column(ID)
    type: Mapped[str] = mapped_column(NAME)
    encrypted_blob: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[str] = mapped_column(String(64))
    extra: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IdentityPolicy(Base):
    """A v3 policy document: an opaque blob with a type (Keystone stores, never runs it)."""

    __tablename__ = "identity_policies"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(NAME)
    blob: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict] = mapped_column(default=dict)


class DomainConfigOption(Base):
    """One option of a domain's configuration (`[group] option = value`)."""

    __tablename__ = "domain_config_options"
    domain_id: Mapped[str] = mapped_column(
        ID, ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True
    )
    group: Mapped[str] = mapped_column(String(255), primary_key=True)
    option: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[object] = mapped_column(JSON)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)


class EndpointGroup(Base):
    """OS-EP-FILTER: a named set of endpoint filters (service_id, region_id, interface)."""

    __tablename__ = "endpoint_groups"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME)
    description: Mapped[str | None] = mapped_column(Text)
    filters: Mapped[dict] = mapped_column(default=dict)
    extra: Mapped[dict] = mapped_column(default=dict)


class ProjectEndpointGroup(Base):
    __tablename__ = "project_endpoint_groups"
    endpoint_group_id: Mapped[str] = mapped_column(
        ID, ForeignKey("endpoint_groups.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(ID, primary_key=True, index=True)


class OAuthConsumer(Base):
    """An OAuth1 consumer; its secret is kept encrypted with the credential keys."""

    __tablename__ = "oauth_consumers"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    description: Mapped[str | None] = mapped_column(Text)
    encrypted_secret: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict] = mapped_column(default=dict)


class Trust(Base):
    """OS-TRUST: the trustor delegates some of its roles on a project to the trustee."""

    __tablename__ = "trusts"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    trustor_user_id: Mapped[str] = mapped_column(ID, index=True)
    trustee_user_id: Mapped[str] = mapped_column(ID, index=True)
    project_id: Mapped[str | None] = mapped_column(ID, index=True)
    impersonation: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[dt.datetime | None] = mapped_column()
    remaining_uses: Mapped[int | None] = mapped_column(Integer)
    redelegation_count: Mapped[int] = mapped_column(Integer, default=0)
    extra: Mapped[dict] = mapped_column(default=dict)


class TrustRole(Base):
    __tablename__ = "trust_roles"
    trust_id: Mapped[str] = mapped_column(
        ID, ForeignKey("trusts.id", ondelete="CASCADE"), primary_key=True
    )
    role_id: Mapped[str] = mapped_column(ID, primary_key=True)
