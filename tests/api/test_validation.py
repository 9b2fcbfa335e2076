"""stackbox.api.framework.validate: formats are checked, and the compiled validators
stay bounded however many schemas pass through (a schema built per request must cost
time, never memory)."""

from __future__ import annotations

import pytest

from stackbox.api import errors, framework


def test_formats_are_checked() -> None:
    schema = {"type": "object", "properties": {"ip": {"type": "string", "format": "ipv6"}}}
    framework.validate(schema, {"ip": "::1"})
    with pytest.raises(errors.BadRequest) as exc:
        framework.validate(schema, {"ip": "10.0.0.1"})
    assert "Invalid input for field 'ip'" in exc.value.message


def test_a_schema_keeps_its_validator() -> None:
    schema = {"type": "integer"}
    assert framework.validator(schema) is framework.validator(schema)


def test_validators_are_bounded_and_never_mixed_up() -> None:
    for n in range(framework.VALIDATORS_MAX * 3):
        # a fresh schema each time, as a per-request schema would be
        schema = {"type": "object", "properties": {"n": {"const": n}}}
        framework.validate(schema, {"n": n})
        with pytest.raises(errors.BadRequest):
            framework.validate(schema, {"n": n + 1})
    assert len(framework._VALIDATORS) <= framework.VALIDATORS_MAX
