"""Who is making a request: the identity a validated token carries."""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    user_id: str
    user_name: str
    user_domain_id: str
    user_domain_name: str
    roles: tuple[str, ...] = ()
    role_ids: tuple[str, ...] = ()
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    project_domain_name: str | None = None
    domain_id: str | None = None  # domain-scoped token
    domain_name: str | None = None
    system_scope: str | None = None  # "all" for system-scoped tokens
    methods: tuple[str, ...] = ("password",)
    audit_ids: tuple[str, ...] = ()
    issued_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)
    # Tokens from an application credential: {"id", "name", "restricted",
    # "access_rules"}; access_rules None when the credential may make any call.
    application_credential: dict | None = field(default=None, compare=False, hash=False)

    def permits(self, service: str, method: str, path: str) -> bool:
        """Whether the token's access rules (if any) allow this call: `service` is the
        service type, `path` the request path below the service's prefix (what
        keystonemiddleware compares). Validating a token is always allowed."""
        rules = (self.application_credential or {}).get("access_rules")
        if rules is None:
            return True
        if service == "identity" and method == "GET" and path.endswith("/v3/auth/tokens"):
            return True
        return any(
            r["service"] == service and r["method"] == method and path_matches(path, r["path"])
            for r in rules
        )

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def scope(self) -> str:
        if self.system_scope:
            return "system"
        if self.domain_id:
            return "domain"
        if self.project_id:
            return "project"
        return "unscoped"

    @functools.cached_property
    def _creds(self) -> dict:
        return self._build_creds()

    def policy_creds(self) -> dict:
        """The credential dict policy rules are evaluated against (computed once)."""
        return self._creds

    def _build_creds(self) -> dict:
        """The credential dict policy rules are evaluated against."""
        return {
            "user_id": self.user_id,
            "user_domain_id": self.user_domain_id,
            "project_id": self.project_id,
            "project_domain_id": self.project_domain_id,
            "domain_id": self.domain_id,
            "system_scope": self.system_scope,
            "roles": [r.lower() for r in self.roles],
            "is_admin": self.is_admin,
        }


_GLOB = re.compile(r"(\{[^}]*\})|(\*\*)|(\*)|([^{}*]+)")


@functools.lru_cache(maxsize=1024)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = []
    for tag, deep, star, literal in _GLOB.findall(pattern):
        if tag or star:
            out.append(r"[^/]+")
        elif deep:
            out.append(r".*")
        else:
            out.append(re.escape(literal))
    return re.compile("^" + "".join(out) + "$")


def path_matches(path: str, pattern: str) -> bool:
    """An access rule's path glob: `*` or `{name}` is one path segment, `**` any
    number of them."""
    return _glob_regex(pattern).match(path) is not None
