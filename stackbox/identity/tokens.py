"""Tokens: Fernet-encrypted (AES-CBC + HMAC, authenticated), never stored, validated
cheaply through a per-process cache.

A token carries who (user id), how (methods), what scope (project, domain, system or
none), when (issued, expires), an audit id and, when it came from an application
credential, that credential's id. Roles (and a credential's access rules) and the
catalog are computed at validation, so role changes apply to live tokens. Revocations
are rows in the database (`store.revoke`). Every identity write bumps a revision
counter; each process drops its cache when the counter moves (checked at most every
`revision_check_interval` seconds), and at once for its own writes.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from stackbox.api import errors
from stackbox.api.context import RequestContext
from stackbox.db import Database
from stackbox.identity import appcreds, catalog, store, trusts
from stackbox.identity.models import ApplicationCredential, Domain, Project, User

PAYLOAD_VERSION = 1
CACHE_MAX = 20000


def isotime(t: dt.datetime) -> str:
    """Keystone's token timestamp: seconds precision, literal Z."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def new_audit_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


class KeyRepository:
    """Fernet keys as files `0`, `1`, … in a 0700 directory; the highest is primary."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def ensure(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path, 0o700)
        if not self._indexes():
            for i in (0, 1):
                self._write(i, Fernet.generate_key())

    def rotate(self, keep: int = 3) -> None:
        idx = self._indexes()
        self._write((max(idx) + 1) if idx else 0, Fernet.generate_key())
        for old in sorted(self._indexes())[:-keep]:
            (self.path / str(old)).unlink()

    def _indexes(self) -> list[int]:
        if not self.path.is_dir():
            return []
        return [int(p.name) for p in self.path.iterdir() if p.name.isdigit()]

    def _write(self, index: int, key: bytes) -> None:
        tmp = self.path / f".{index}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        tmp.rename(self.path / str(index))

    def fernet(self) -> MultiFernet:
        idx = sorted(self._indexes(), reverse=True)
        if not idx:
            raise RuntimeError(f"no token keys in {self.path}; run `stackbox db upgrade`")
        return MultiFernet([Fernet((self.path / str(i)).read_bytes().strip()) for i in idx])


@dataclass(frozen=True)
class Payload:
    user_id: str
    methods: tuple[str, ...]
    project_id: str | None
    domain_id: str | None
    system: bool
    issued_at: dt.datetime
    expires_at: dt.datetime
    audit_ids: tuple[str, ...]
    app_cred_id: str | None = None
    trust_id: str | None = None  # trust-scoped: user_id is the trustee

    def encode(self) -> bytes:
        fields = [
            PAYLOAD_VERSION,
            self.user_id,
            list(self.methods),
            self.project_id,
            self.domain_id,
            self.system,
            int(self.issued_at.replace(tzinfo=dt.UTC).timestamp() * 1e6),
            int(self.expires_at.replace(tzinfo=dt.UTC).timestamp()),
            list(self.audit_ids),
        ]
        # Optional tail, trailing Nones dropped: [app_cred_id, trust_id].
        tail = [self.app_cred_id, self.trust_id]
        while tail and tail[-1] is None:
            tail.pop()
        return json.dumps(fields + tail, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Payload:
        v, user, methods, project, domain, system, issued, expires, audits, *more = json.loads(raw)
        if v != PAYLOAD_VERSION:
            raise ValueError("unknown token payload version")

        def ts(x: float) -> dt.datetime:
            return dt.datetime.fromtimestamp(x, dt.UTC).replace(tzinfo=None)

        return cls(
            user,
            tuple(methods),
            project,
            domain,
            bool(system),
            ts(issued / 1e6),
            ts(expires),
            tuple(audits),
            more[0] if more else None,
            more[1] if len(more) > 1 else None,
        )


class TokenService:
    """Issues, validates (cached) and revokes tokens for one API process."""

    def __init__(
        self,
        db: Database,
        keys: KeyRepository,
        *,
        expiration: int = 3600,
        cache_time: float = 300.0,
        revision_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.keys = keys
        self._fernet = keys.fernet()
        self.expiration = expiration
        self.cache_time = cache_time
        self.revision_interval = revision_interval
        self._cache: dict[str, tuple[RequestContext, float]] = {}
        self._lock = threading.Lock()
        self._generation = 0  # moves on every invalidate()
        self._revision: int | None = None
        self._revision_checked = 0.0
        event.listen(db._factory, "after_commit", self._after_commit)

    # Cache ---------------------------------------------------------------------------
    def _after_commit(self, session: Session) -> None:
        if session.info.pop("identity_changed", False):
            self.invalidate()

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._cache.clear()
        catalog.invalidate()
        store.CACHE.clear()

    def _check_revision(self) -> None:
        with self.db.session() as s:
            rev = store.current_revision(s)
        if self._revision is not None and rev != self._revision:
            self.invalidate()
        self._revision = rev

    async def authenticate(self, token: str) -> RequestContext:
        """The context of a valid `X-Auth-Token`, or 401."""
        now = time.monotonic()
        if now - self._revision_checked > self.revision_interval:
            self._revision_checked = now
            await anyio.to_thread.run_sync(self._check_revision)
        hit = self._cache.get(token)
        if hit is not None and hit[1] > now:
            return hit[0]
        try:
            ctx = await anyio.to_thread.run_sync(self.validate, token)
        except errors.NotFound:
            raise errors.Unauthorized() from None
        return ctx

    def _remember(self, token: str, ctx: RequestContext, generation: int) -> None:
        """Cache a validation, unless identity data changed while it was computed."""
        with self._lock:
            if generation != self._generation:
                return
            if len(self._cache) >= CACHE_MAX:
                for key in list(self._cache)[: CACHE_MAX // 2]:
                    del self._cache[key]
            # Cached until the cache time passes or the token expires, whichever is first.
            left = (ctx.expires_at - store.utcnow()).total_seconds() if ctx.expires_at else 0
            self._cache[token] = (ctx, time.monotonic() + min(self.cache_time, left))

    # Issue and validate -------------------------------------------------------------------
    def issue(
        self,
        s: Session,
        user: User,
        methods: tuple[str, ...],
        *,
        project: Project | None = None,
        domain: Domain | None = None,
        system: bool = False,
        expires_at: dt.datetime | None = None,
        audit_chain: tuple[str, ...] = (),
        app_cred: ApplicationCredential | None = None,
        trust_id: str | None = None,
    ) -> tuple[str, RequestContext]:
        generation = self._generation
        now = store.utcnow()
        limit = now + dt.timedelta(seconds=self.expiration)
        if app_cred is not None and app_cred.expires_at is not None:
            limit = min(limit, app_cred.expires_at)  # never outlives its credential
        payload = Payload(
            user.id,
            methods,
            project.id if project else None,
            domain.id if domain else None,
            system,
            now,
            min(expires_at, limit) if expires_at else limit,
            (new_audit_id(), *audit_chain[:1]),
            app_cred.id if app_cred is not None else None,
            trust_id,
        )
        token = self._fernet.encrypt(payload.encode()).decode().rstrip("=")
        ctx = self._context(s, payload)
        self._remember(token, ctx, generation)
        return token, ctx

    def decode(self, token: str) -> Payload:
        try:
            padded = token + "=" * (-len(token) % 4)
            return Payload.decode(self._fernet.decrypt(padded.encode()))
        except (InvalidToken, ValueError, TypeError, UnicodeError):
            raise errors.NotFound("Failed to validate token") from None

    def validate(self, token: str) -> RequestContext:
        """Full validation (no cache read); 404 when invalid, expired or revoked."""
        generation = self._generation
        payload = self.decode(token)
        if payload.expires_at <= store.utcnow():
            raise errors.NotFound("Failed to validate token")
        with self.db.session() as s:
            if store.is_revoked(
                s,
                audit_ids=payload.audit_ids,
                user_id=payload.user_id,
                project_id=payload.project_id,
                issued_at=payload.issued_at,
            ):
                raise errors.NotFound("Failed to validate token")
            ctx = self._context(s, payload)
        self._remember(token, ctx, generation)
        return ctx

    def _context(self, s: Session, p: Payload) -> RequestContext:
        invalid = errors.NotFound("Failed to validate token")
        if p.trust_id:
            return self._trust_context(s, p)
        user = s.get(User, p.user_id)
        if user is None or not user.enabled:
            raise invalid
        udom = s.get(Domain, user.domain_id)
        if udom is None or not udom.enabled:
            raise invalid
        project = pdom = domain = None
        if p.project_id:
            project = s.get(Project, p.project_id)
            if project is None or not project.enabled:
                raise invalid
            pdom = s.get(Domain, project.domain_id)
            if pdom is None or not pdom.enabled:
                raise invalid
            role_ids = store.effective_role_ids(s, user.id, project=project)
        elif p.domain_id:
            domain = s.get(Domain, p.domain_id)
            if domain is None or not domain.enabled:
                raise invalid
            role_ids = store.effective_role_ids(s, user.id, domain_id=domain.id)
        elif p.system:
            role_ids = store.effective_role_ids(s, user.id, system=True)
        else:
            role_ids = set()
        cred_info = None
        if p.app_cred_id:
            cred = s.get(ApplicationCredential, p.app_cred_id)
            if cred is None or cred.user_id != user.id or cred.project_id != p.project_id:
                raise invalid
            role_ids = appcreds.token_role_ids(cred, role_ids)
            cred_info = appcreds.token_info(s, cred)
        if (project or domain or p.system) and not role_ids:
            raise invalid
        roles = store.roles_by_ids(s, role_ids)
        return RequestContext(
            user_id=user.id,
            user_name=user.name,
            user_domain_id=udom.id,
            user_domain_name=udom.name,
            roles=tuple(r.name for r in roles),
            role_ids=tuple(r.id for r in roles),
            project_id=project.id if project else None,
            project_name=project.name if project else None,
            project_domain_id=pdom.id if pdom else None,
            project_domain_name=pdom.name if pdom else None,
            domain_id=domain.id if domain else None,
            domain_name=domain.name if domain else None,
            system_scope="all" if p.system else None,
            methods=p.methods,
            audit_ids=p.audit_ids,
            issued_at=p.issued_at,
            expires_at=p.expires_at,
            extra={"password_expires_at": None},
            application_credential=cred_info,
        )

    def _trust_context(self, s: Session, p: Payload) -> RequestContext:
        """A trust-scoped token: the trust's project and delegated roles, shown as the
        trustor when the trust impersonates."""
        assert p.trust_id
        try:
            ts = trusts.scope(s, p.trust_id, p.user_id, issuing=False)
        except errors.ApiError:
            raise errors.NotFound("Failed to validate token") from None
        udom = s.get(Domain, ts.user.domain_id)
        pdom = s.get(Domain, ts.project.domain_id)
        if udom is None or pdom is None or not pdom.enabled:
            raise errors.NotFound("Failed to validate token")
        roles = store.roles_by_ids(s, ts.role_ids)
        return RequestContext(
            user_id=ts.user.id,
            user_name=ts.user.name,
            user_domain_id=udom.id,
            user_domain_name=udom.name,
            roles=tuple(r.name for r in roles),
            role_ids=tuple(r.id for r in roles),
            project_id=ts.project.id,
            project_name=ts.project.name,
            project_domain_id=pdom.id,
            project_domain_name=pdom.name,
            methods=p.methods,
            audit_ids=p.audit_ids,
            issued_at=p.issued_at,
            expires_at=p.expires_at,
            extra={"password_expires_at": None, "trust_id": p.trust_id, "trust": ts.body()},
        )

    def revoke(self, token: str) -> None:
        payload = self.decode(token)
        with self.db.session() as s:
            store.revoke(s, audit_id=payload.audit_ids[0], expires_in=self.expiration + 60)

    def token_body(self, s: Session, ctx: RequestContext, *, with_catalog: bool) -> dict:
        """The `{"token": …}` body of POST and GET /v3/auth/tokens."""
        assert ctx.issued_at and ctx.expires_at
        body: dict = {
            "methods": list(ctx.methods),
            "user": {
                "domain": {"id": ctx.user_domain_id, "name": ctx.user_domain_name},
                "id": ctx.user_id,
                "name": ctx.user_name,
                "password_expires_at": None,
            },
            "audit_ids": list(ctx.audit_ids),
            "expires_at": isotime(ctx.expires_at),
            "issued_at": isotime(ctx.issued_at),
        }
        if ctx.project_id:
            body["project"] = {
                "domain": {"id": ctx.project_domain_id, "name": ctx.project_domain_name},
                "id": ctx.project_id,
                "name": ctx.project_name,
            }
            body["is_domain"] = False
            if ctx.extra.get("trust"):
                body["OS-TRUST:trust"] = ctx.extra["trust"]
        elif ctx.domain_id:
            body["domain"] = {"id": ctx.domain_id, "name": ctx.domain_name}
        elif ctx.system_scope:
            body["system"] = {"all": True}
        if ctx.application_credential is not None:
            cred = dict(ctx.application_credential)
            if not cred.get("access_rules"):
                cred.pop("access_rules", None)
            body["application_credential"] = cred
        if ctx.scope != "unscoped":
            body["roles"] = [
                {"id": i, "name": n} for i, n in zip(ctx.role_ids, ctx.roles, strict=True)
            ]
            if with_catalog:
                body["catalog"] = catalog.token_catalog(s)
        return {"token": body}


def lookup_user(s: Session, user_ref: dict) -> User | None:
    """A user from an auth request's `user` object: by id, or by name plus domain."""
    if user_ref.get("id"):
        return s.get(User, user_ref["id"])
    dom = user_ref.get("domain") or {}
    domain_id = dom.get("id")
    if not domain_id and dom.get("name"):
        d = s.scalar(select(Domain).where(Domain.name == dom["name"]))
        domain_id = d.id if d else None
    if not domain_id or not user_ref.get("name"):
        return None
    return store.user_by_name(s, user_ref["name"], domain_id)
