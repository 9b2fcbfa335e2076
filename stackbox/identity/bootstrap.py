"""First-start (and every-start) bootstrap of identity: the Default domain, the admin,
demo and service projects, the admin/manager/member/reader/service roles and Keystone's
role hierarchy (admin implies manager implies member implies reader), the admin and
demo users,
the region and the service catalog. Idempotent: running it again changes nothing but
endpoint URLs that no longer match the configured public URL."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from stackbox.config import Config
from stackbox.identity import catalog, passwords, store
from stackbox.identity.models import (
    Assignment,
    CatalogEndpoint,
    CatalogService,
    Domain,
    ImpliedRole,
    Project,
    Region,
    Role,
    User,
)

DEFAULT_DOMAIN_ID = "default"
T = TypeVar("T")
ROLES = ("admin", "member", "reader", "manager", "service")
# (prior, implied) rules `keystone-manage bootstrap` ensures.
IMPLIED = (("member", "reader"), ("manager", "member"), ("admin", "manager"))
# Rules it removes: deployments from before the manager role had admin imply member.
OBSOLETE_IMPLIED = (("admin", "member"),)


@dataclass
class Credentials:
    admin_password: str
    demo_password: str


def _secret(cfg: Config, name: str) -> str:
    """The bootstrap password of a user: from config/env, else from (or newly into) a
    0600 file in the state dir."""
    given = cfg.get("identity", f"{name}_password")
    path = cfg.state_dir / f"{name}-password"
    if given:
        _write_secret(path, given)
        return given
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(18)
    _write_secret(path, value)
    return value


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    os.chmod(path, 0o600)


def _get_or_add(s: Session, model: type[T], where: dict, **values: object) -> T:
    row = s.scalar(select(model).filter_by(**where))
    if row is None:
        row = model(**where, **values)
        s.add(row)
        s.flush()
    return row


def _grant(s: Session, kind: str, actor: str, target: str, role: Role) -> None:
    _get_or_add(
        s,
        Assignment,
        {
            "type": kind,
            "actor_id": actor,
            "target_id": target,
            "role_id": role.id,
            "inherited": False,
        },
    )


def _ensure_user(s: Session, name: str, password: str, project: Project, enforce: bool) -> User:
    user = store.user_by_name(s, name, DEFAULT_DOMAIN_ID)
    if user is None:
        user = User(
            name=name,
            domain_id=DEFAULT_DOMAIN_ID,
            enabled=True,
            password_hash=passwords.hash_password(password),
            password_changed_at=store.utcnow(),
            default_project_id=project.id,
        )
        s.add(user)
        s.flush()
    elif enforce and not passwords.verify_password(user.password_hash, password):
        # The operator configured a new password: follow it. (A generated one is only
        # an initial value; changes made through the API stay.)
        user.password_hash = passwords.hash_password(password)
        user.password_changed_at = store.utcnow()
        store.revoke(s, user_id=user.id)
    return user


def _ensure_implied(s: Session, roles: dict[str, Role]) -> None:
    for prior, implied in IMPLIED:
        key = {"prior_role_id": roles[prior].id, "implied_role_id": roles[implied].id}
        _get_or_add(s, ImpliedRole, key)
    for prior, implied in OBSOLETE_IMPLIED:
        row = s.get(ImpliedRole, (roles[prior].id, roles[implied].id))
        if row is not None:
            s.delete(row)
    s.flush()


def bootstrap(s: Session, cfg: Config) -> Credentials:
    creds = Credentials(_secret(cfg, "admin"), _secret(cfg, "demo"))
    domain = s.get(Domain, DEFAULT_DOMAIN_ID)
    if domain is None:
        s.add(
            Domain(
                id=DEFAULT_DOMAIN_ID, name="Default", enabled=True, description="The default domain"
            )
        )
        s.flush()
    projects = {}
    for name, desc in (
        ("admin", "Bootstrap project for initializing the cloud."),
        ("demo", "Demo project"),
        ("service", "service project"),
    ):
        projects[name] = _get_or_add(
            s,
            Project,
            {"name": name, "domain_id": DEFAULT_DOMAIN_ID},
            parent_id=DEFAULT_DOMAIN_ID,
            description=desc,
            enabled=True,
            tags=[],
            extra={},
        )
    roles = {
        name: _get_or_add(
            s, Role, {"name": name, "domain_id": None}, options={"immutable": True}, extra={}
        )
        for name in ROLES
    }
    _ensure_implied(s, roles)
    admin = _ensure_user(
        s,
        "admin",
        creds.admin_password,
        projects["admin"],
        bool(cfg.get("identity", "admin_password")),
    )
    demo = _ensure_user(
        s, "demo", creds.demo_password, projects["demo"], bool(cfg.get("identity", "demo_password"))
    )
    _grant(s, store.USER_PROJECT, admin.id, projects["admin"].id, roles["admin"])
    _grant(s, store.USER_SYSTEM, admin.id, store.SYSTEM_ALL, roles["admin"])
    _grant(s, store.USER_PROJECT, demo.id, projects["demo"].id, roles["member"])
    _ensure_catalog(s, cfg)
    store.bump_revision(s)
    return creds


def _ensure_catalog(s: Session, cfg: Config) -> None:
    region = cfg.get("default", "region")
    _get_or_add(s, Region, {"id": region}, description="", extra={})
    base = cfg.public_url
    for stype, name, path in catalog.DEFAULT_SERVICES:
        svc = s.scalar(select(CatalogService).where(CatalogService.name == name))
        if svc is None:
            svc = CatalogService(type=stype, name=name, enabled=True, extra={})
            s.add(svc)
            s.flush()
        for iface in catalog.INTERFACES:
            ep = s.scalar(
                select(CatalogEndpoint).where(
                    CatalogEndpoint.service_id == svc.id, CatalogEndpoint.interface == iface
                )
            )
            url = base + path
            if ep is None:
                s.add(
                    CatalogEndpoint(
                        service_id=svc.id,
                        interface=iface,
                        url=url,
                        region_id=region,
                        enabled=True,
                        extra={},
                    )
                )
            elif ep.url != url:
                ep.url = url
    s.flush()
