"""Property protections: the rules file (pure logic) and its effect on the API."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackbox.image import protections as prot
from tests.image.conftest import Cloud, create, get, patch

RULES = """
[^x_none_read]
create = admin
read = !
update = !
delete = !

[^x_admin_only]
create = admin
read = admin
update = admin
delete = admin

[^x_member_update]
create = admin,member
read = @
update = member
delete = !

[.*]
create = @
read = @
update = @
delete = @
"""


def test_rules_logic() -> None:
    p = prot.parse(RULES)
    assert not p.allowed("x_none_read_a", "read", ["admin"])
    assert p.allowed("x_none_read_a", "create", ["admin"])
    assert p.allowed("x_admin_only_k", "update", ["Admin"])
    assert not p.allowed("x_admin_only_k", "read", ["member", "reader"])
    assert p.allowed("x_member_update", "update", ["member"])
    assert not p.allowed("x_member_update", "delete", ["admin"])
    assert p.allowed("anything", "delete", [])
    assert not prot.parse("[^only]\ncreate=@\nread=@\nupdate=@\ndelete=@").allowed(
        "other", "read", ["admin"]
    )


def test_policies_format() -> None:
    p = prot.parse("[.*]\ncreate=rule_a\nread=@\nupdate=!\ndelete=rule_b", fmt="policies")
    assert p.allowed("k", "create", [], lambda rule: rule == "rule_a")
    assert not p.allowed("k", "delete", [], lambda rule: rule == "rule_a")


@pytest.mark.parametrize(
    "text",
    ["[(unclosed]\ncreate=@\nread=@\nupdate=@\ndelete=@", "[.*]\ncreate=@\n", "not ini"],
)
def test_bad_files(text: str) -> None:
    with pytest.raises(prot.ProtectionError):
        prot.parse(text)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(prot.ProtectionError):
        prot.load(tmp_path / "nope.conf")


@contextlib.contextmanager
def protected(cloud: Cloud, tmp_path: Path) -> Iterator[None]:
    path = tmp_path / "protections.conf"
    path.write_text(RULES)
    state = cloud.state
    cfg = state.cfg  # type: ignore[attr-defined]
    cfg.set("image", "property_protection_file", str(path))
    state.extras.pop("image.protections", None)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        cfg.set("image", "property_protection_file", "")
        state.extras.pop("image.protections", None)  # type: ignore[attr-defined]


def test_api_enforces_protections(cloud: Cloud, admin: dict, demo: dict, tmp_path: Path) -> None:
    with protected(cloud, tmp_path):
        r = cloud.client.post(
            "/image/v2/images", json={"name": "p", "x_admin_only_a": "1"}, headers=demo
        )
        assert r.status_code == 403
        img = create(cloud, admin, x_admin_only_a="1", x_none_read_b="2", plain="3")
        assert "x_none_read_b" not in img and img["x_admin_only_a"] == "1"
        ops = [{"op": "replace", "path": "/x_none_read_b", "value": "9"}]
        assert patch(cloud, admin, img["id"], ops).status_code == 403
        ops = [{"op": "remove", "path": "/x_none_read_b"}]
        assert patch(cloud, admin, img["id"], ops).status_code == 403
        ops = [{"op": "replace", "path": "/x_admin_only_a", "value": "2"}]
        assert patch(cloud, admin, img["id"], ops).json()["x_admin_only_a"] == "2"

        mine = create(cloud, demo, x_member_update="a")
        ops = [{"op": "replace", "path": "/x_member_update", "value": "b"}]
        assert patch(cloud, demo, mine["id"], ops).json()["x_member_update"] == "b"
        ops = [{"op": "remove", "path": "/x_member_update"}]
        assert patch(cloud, demo, mine["id"], ops).status_code == 403
        ops = [{"op": "add", "path": "/x_admin_only_z", "value": "b"}]
        assert patch(cloud, demo, mine["id"], ops).status_code == 403
    # Without the rules file everything is readable again.
    assert get(cloud, admin, img["id"]).json()["x_none_read_b"] == "2"


def test_api_policies_format(cloud: Cloud, admin: dict, demo: dict, tmp_path: Path) -> None:
    path = tmp_path / "policies.conf"
    path.write_text(
        "[^x_pol]\ncreate = context_is_admin\nread = @\nupdate = no_such_rule\ndelete = !\n"
        "[.*]\ncreate = @\nread = @\nupdate = @\ndelete = @\n"
    )
    cfg = cloud.state.cfg  # type: ignore[attr-defined]
    cfg.set("image", "property_protection_file", str(path))
    cfg.set("image", "property_protection_rule_format", "policies")
    cloud.state.extras.pop("image.protections", None)  # type: ignore[attr-defined]
    try:
        r = cloud.client.post("/image/v2/images", json={"x_pol_a": "1"}, headers=demo)
        assert r.status_code == 403
        img = create(cloud, admin, x_pol_a="1")
        ops = [{"op": "replace", "path": "/x_pol_a", "value": "2"}]
        assert patch(cloud, admin, img["id"], ops).status_code == 403  # unknown rule
    finally:
        cfg.set("image", "property_protection_file", "")
        cfg.set("image", "property_protection_rule_format", "roles")
        cloud.state.extras.pop("image.protections", None)  # type: ignore[attr-defined]
