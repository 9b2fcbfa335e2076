"""Policy: rules in oslo.policy's language, compiled once, evaluated per request.

Each service registers its default rules (`register_defaults`), which match the
OpenStack defaults; an operator's policy file (YAML or JSON, `api.policy_file`)
overrides any of them. A rule is a string such as
`"role:admin or (role:reader and project_id:%(target.project.id)s)"` with:

- `@` (always), `!` (never), `""` (always)
- `role:NAME`, `rule:NAME`, `KEY:VALUE` or `KEY:%(target.path)s` compared to the credentials
- `and`, `or`, `not`, parentheses

Pure logic: no I/O except reading the policy file in `Enforcer.load_file`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

Check = Callable[[Mapping[str, Any], Mapping[str, Any], "Enforcer"], bool]


class PolicyError(ValueError):
    """A rule cannot be parsed, or names a rule that does not exist."""


_TOKEN = re.compile(r"\s*((?:%\([^)]*\)s|[^\s()])+|\(|\))")


def _tokens(text: str) -> list[str]:
    return [m.group(1) for m in _TOKEN.finditer(text)]


def parse(rule: str) -> Check:
    """Compile one rule string to a check function."""
    tokens = _tokens(rule)
    if not tokens:
        return _always
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        return tok

    def expr() -> Check:
        parts = [and_expr()]
        while peek() == "or":
            take()
            parts.append(and_expr())
        return parts[0] if len(parts) == 1 else _any(parts)

    def and_expr() -> Check:
        parts = [not_expr()]
        while peek() == "and":
            take()
            parts.append(not_expr())
        return parts[0] if len(parts) == 1 else _all(parts)

    def not_expr() -> Check:
        if peek() == "not":
            take()
            inner = not_expr()
            return lambda c, t, e: not inner(c, t, e)
        return atom()

    def atom() -> Check:
        tok = peek()
        if tok is None:
            raise PolicyError(f"rule ends too early: {rule!r}")
        take()
        if tok == "(":
            inner = expr()
            if peek() != ")":
                raise PolicyError(f"missing ')' in {rule!r}")
            take()
            return inner
        if tok in ("@", "True"):
            return _always
        if tok in ("!", "False"):
            return _never
        if ":" not in tok:
            raise PolicyError(f"cannot parse {tok!r} in {rule!r}")
        return _check(*tok.split(":", 1))

    result = expr()
    if pos != len(tokens):
        raise PolicyError(f"unexpected {tokens[pos]!r} in {rule!r}")
    return result


def _always(c: Mapping[str, Any], t: Mapping[str, Any], e: Enforcer) -> bool:
    return True


def _never(c: Mapping[str, Any], t: Mapping[str, Any], e: Enforcer) -> bool:
    return False


def _any(parts: list[Check]) -> Check:
    return lambda c, t, e: any(p(c, t, e) for p in parts)


def _all(parts: list[Check]) -> Check:
    return lambda c, t, e: all(p(c, t, e) for p in parts)


_SUBST = re.compile(r"%\(([^)]+)\)s")


def _value(match: str, target: Mapping[str, Any]) -> str | None:
    """`match` with `%(key)s` taken from the target; None when the key is missing."""
    m = _SUBST.fullmatch(match)
    if m:
        value = target.get(m.group(1))
        return None if value is None else str(value)
    return match


def _check(kind: str, match: str) -> Check:
    if kind == "rule":
        return lambda c, t, e: e.check_rule(match, c, t)
    if kind == "role":

        def role_check(c: Mapping[str, Any], t: Mapping[str, Any], e: Enforcer) -> bool:
            want = _value(match, t)
            return want is not None and want.lower() in c.get("roles", ())

        return role_check

    def generic(c: Mapping[str, Any], t: Mapping[str, Any], e: Enforcer) -> bool:
        want = _value(match, t)
        have = c.get(kind)
        if want is None or have is None:
            return False
        return str(have).lower() == want.lower() if isinstance(have, bool) else str(have) == want

    return generic


def flatten(target: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"target": {"project": {"id": 1}}} -> {"target.project.id": 1, ...}."""
    out: dict[str, Any] = {}
    for key, value in target.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


class Enforcer:
    """Default rules plus operator overrides; `check` evaluates one action. Credentials
    carry `roles` in lower case (RequestContext.policy_creds does that)."""

    def __init__(self) -> None:
        self._defaults: dict[str, str] = {}
        self._overrides: dict[str, str] = {}
        self._compiled: dict[str, Check] = {}

    def register_defaults(self, rules: Mapping[str, str]) -> None:
        for name, text in rules.items():
            parse(text)  # fail early on a bad default
            self._defaults[name] = text
        self._compiled.clear()

    def set_rules(self, rules: Mapping[str, str]) -> None:
        for name, text in rules.items():
            if not isinstance(text, str):
                raise PolicyError(f"rule {name!r} must be a string")
            parse(text)
        self._overrides.update(rules)
        self._compiled.clear()

    def load_file(self, path: str | Path) -> None:
        text = Path(path).read_text()
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        if data is None:
            return
        if not isinstance(data, dict):
            raise PolicyError(f"{path}: expected a mapping of rule names to rules")
        self.set_rules(data)

    def rule_text(self, name: str) -> str | None:
        return self._overrides.get(name, self._defaults.get(name))

    def rules(self) -> dict[str, str]:
        return {**self._defaults, **self._overrides}

    def _compile(self, name: str) -> Check:
        check = self._compiled.get(name)
        if check is None:
            text = self.rule_text(name)
            if text is None:
                raise PolicyError(f"no policy rule named {name!r}")
            check = self._compiled[name] = parse(text)
        return check

    def check_rule(
        self, name: str, creds: Mapping[str, Any], target: Mapping[str, Any], _depth: int = 0
    ) -> bool:
        return self._compile(name)(creds, target, self)

    def check(
        self, action: str, creds: Mapping[str, Any], target: Mapping[str, Any] | None = None
    ) -> bool:
        """True when `action` is allowed for `creds` on `target` (a nested dict)."""
        flat = flatten(target or {})
        return self.check_rule(action, creds, flat)
