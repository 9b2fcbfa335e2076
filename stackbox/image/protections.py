"""Property protections: which roles (or policy rules) may create, read, update and
delete which extra image properties, from a rules file in Glance's INI format:

    [^x_billing_.*]
    create = admin,billing
    read = @
    update = admin
    delete = !

Section names are regular expressions matched against property names (first match
in file order wins); values are comma-separated roles, `@` (everyone) or `!` (no one).
With `property_protection_rule_format = policies` the values name policy rules. A
property no section matches is denied (Glance's behaviour: end the file with `[.*]`
to allow the rest). Without a rules file, nothing is protected.

Pure logic plus the loader; the API calls `Protections.allowed`.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

OPERATIONS = ("create", "read", "update", "delete")


class ProtectionError(ValueError):
    """The rules file is missing or malformed."""


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    allowed: dict[str, tuple[str, ...]]  # operation -> roles/rules ("@", "!")


class Protections:
    """A parsed rules file. `allowed(prop, op, roles)` is the whole decision."""

    def __init__(self, rules: Iterable[Rule], fmt: str = "roles") -> None:
        self.rules = list(rules)
        if fmt not in ("roles", "policies"):
            raise ProtectionError(f"unknown property_protection_rule_format {fmt!r}")
        self.fmt = fmt

    def rule_for(self, prop: str) -> Rule | None:
        for rule in self.rules:
            if rule.pattern.search(prop):
                return rule
        return None

    def allowed(
        self,
        prop: str,
        op: str,
        roles: Iterable[str],
        policy_check: Callable[[str], bool] | None = None,
    ) -> bool:
        rule = self.rule_for(prop)
        if rule is None:
            return False
        values = rule.allowed.get(op, ())
        if "!" in values:
            return False
        if "@" in values:
            return True
        if self.fmt == "policies":
            return policy_check is not None and any(policy_check(v) for v in values)
        have = {r.lower() for r in roles}
        return any(v.lower() in have for v in values)


def parse(text: str, fmt: str = "roles", source: str = "<rules>") -> Protections:
    cp = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        cp.read_string(text, source=source)
    except configparser.Error as exc:
        raise ProtectionError(f"{source}: {exc}") from exc
    rules = []
    for section in cp.sections():
        try:
            pattern = re.compile(section)
        except re.error as exc:
            raise ProtectionError(f"{source}: [{section}] is not a regular expression") from exc
        allowed: dict[str, tuple[str, ...]] = {}
        for op in OPERATIONS:
            if op not in cp[section]:
                raise ProtectionError(f"{source}: [{section}] lacks '{op}'")
            values = tuple(v.strip() for v in cp[section][op].split(",") if v.strip())
            if fmt == "policies" and len(values) > 1:
                raise ProtectionError(f"{source}: [{section}] {op}: one policy rule only")
            allowed[op] = values
        rules.append(Rule(pattern, allowed))
    return Protections(rules, fmt)


def load(path: str | Path, fmt: str = "roles") -> Protections:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ProtectionError(f"cannot read property protection file {path}: {exc}") from exc
    return parse(text, fmt, str(path))
