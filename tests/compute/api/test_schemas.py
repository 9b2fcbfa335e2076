"""Request schemas are module constants, one per microversion range: for every
microversion the API serves, the constant a handler picks is the schema its builder
makes for that version (so a new `if mv >= ...` in a builder without its range fails
here), and it is the same object on every request (validators are compiled once)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from stackbox.compute.api import microversion, quota_sets, server_create, server_groups, servers
from stackbox.compute.api.microversion import Version, pick

EVERY_VERSION = [(2, minor) for minor in range(microversion.MIN[1], microversion.MAX[1] + 1)]

TABLES: dict[str, tuple[Sequence[tuple[Version, dict]], Callable[[Version], dict[str, Any]]]] = {
    "servers create": (server_create.CREATE_SCHEMAS, server_create.build_create_schema),
    "servers update": (servers.UPDATE_SCHEMAS, servers.build_update_schema),
    "quota set update": (
        quota_sets.SET_SCHEMAS,
        lambda mv: quota_sets.build_update_schema(mv, "quota_set", force=True),
    ),
    "quota class update": (
        quota_sets.CLASS_SCHEMAS,
        lambda mv: quota_sets.build_update_schema(mv, "quota_class_set", force=False, classes=True),
    ),
    "server group create": (server_groups.CREATE_SCHEMAS, server_groups.build_create_schema),
}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_each_version_gets_its_schema_constant(name: str) -> None:
    table, build = TABLES[name]
    assert table[0][0] == microversion.MIN
    for mv in EVERY_VERSION:
        assert pick(table, mv) == build(mv), (name, mv)
        assert pick(table, mv) is pick(table, mv)


def test_create_schema_is_one_object_per_range() -> None:
    assert server_create.create_schema((2, 40)) is server_create.create_schema((2, 51))
    assert server_create.create_schema((2, 51)) is not server_create.create_schema((2, 52))
