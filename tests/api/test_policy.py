"""The policy language: parsing, evaluation against credentials and targets, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackbox.api.policy import Enforcer, PolicyError, flatten, parse

ADMIN = {"roles": ["admin", "member", "reader"], "user_id": "u1", "project_id": "p1"}
MEMBER = {"roles": ["member", "reader"], "user_id": "u2", "project_id": "p2"}


def check(rule: str, creds: dict, target: dict | None = None) -> bool:
    e = Enforcer()
    e.register_defaults({"r": rule, "is_admin": "role:admin"})
    return e.check("r", creds, target)


@pytest.mark.parametrize(
    ("rule", "creds", "target", "expected"),
    [
        ("", MEMBER, None, True),
        ("@", MEMBER, None, True),
        ("!", ADMIN, None, False),
        ("role:admin", ADMIN, None, True),
        ("role:admin", MEMBER, None, False),
        ("role:ADMIN", ADMIN, None, True),
        ("rule:is_admin or project_id:%(project_id)s", MEMBER, {"project_id": "p2"}, True),
        ("rule:is_admin or project_id:%(project_id)s", MEMBER, {"project_id": "p1"}, False),
        (
            "role:reader and user_id:%(target.user.id)s",
            MEMBER,
            {"target": {"user": {"id": "u2"}}},
            True,
        ),
        ("not role:admin", MEMBER, None, True),
        ("(role:admin or role:member) and not user_id:u2", MEMBER, None, False),
        ("user_id:%(missing)s", MEMBER, {}, False),
        ("system_scope:all", MEMBER, None, False),
    ],
)
def test_rules(rule: str, creds: dict, target: dict | None, expected: bool) -> None:
    assert check(rule, creds, target) is expected


@pytest.mark.parametrize("bad", ["role:admin or", "(role:admin", "role:admin )", "admin"])
def test_bad_rules_fail_to_parse(bad: str) -> None:
    with pytest.raises(PolicyError):
        parse(bad)


def test_unknown_rule_reference_is_an_error() -> None:
    e = Enforcer()
    e.register_defaults({"a": "rule:nope"})
    with pytest.raises(PolicyError):
        e.check("a", ADMIN)


def test_policy_file_overrides_defaults(tmp_path: Path) -> None:
    e = Enforcer()
    e.register_defaults({"identity:list_users": "role:admin"})
    assert not e.check("identity:list_users", MEMBER)
    f = tmp_path / "policy.yaml"
    f.write_text('"identity:list_users": "role:member"\n')
    e.load_file(f)
    assert e.check("identity:list_users", MEMBER)
    f.write_text("- not a mapping\n")
    with pytest.raises(PolicyError):
        e.load_file(f)


def test_flatten() -> None:
    assert flatten({"target": {"project": {"id": 1, "domain_id": "d"}}, "x": 2}) == {
        "target.project.id": 1,
        "target.project.domain_id": "d",
        "x": 2,
    }
