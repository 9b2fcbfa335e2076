"""stackbox.api.jsonbody.parse: what a request body's JSON may be before any handler,
validator or database sees it."""

from __future__ import annotations

import json

import pytest

from stackbox.api import errors, jsonbody


def _refused(raw: bytes) -> str:
    with pytest.raises(errors.BadRequest) as exc:
        jsonbody.parse(raw)
    return exc.value.message


def test_json_nested_past_the_limit_is_a_400() -> None:
    # 10,000 levels made json.loads raise RecursionError: a 500 from every JSON route
    for opener, closer in (("[", "]"), ('{"a":', "}")):
        for depth in (10_000, jsonbody.MAX_JSON_DEPTH + 1):
            raw = (opener * depth + "1" + closer * depth).encode()
            assert "nested deeper" in _refused(raw)
    ok = "[" * jsonbody.MAX_JSON_DEPTH + "]" * jsonbody.MAX_JSON_DEPTH
    assert json.dumps(jsonbody.parse(ok.encode()), separators=(",", ":")) == ok


def test_empty_null_and_malformed() -> None:
    assert jsonbody.parse(b" ") is None and jsonbody.parse(b"null") is None
    for raw in (b"{", b"{'a': 1}", b"\xff{}", b'{"a": 1,}'):
        assert "not valid JSON" in _refused(raw)


def test_unpaired_surrogates_are_a_400() -> None:
    # "\ud800" parsed into a str no UTF-8 encoder takes: a 500 when the database saw it
    for raw in (
        rb'{"group": {"description": "\ud800"}}',
        rb'{"a": ["x", "\uDFFF tail"]}',
        rb'{"\udc00": 1}',
        rb'"\ud83d"',
    ):
        assert "unpaired surrogate" in _refused(raw)
    # a pair is one character, and a plain escape is fine
    assert jsonbody.parse(rb'{"e": "\ud83d\ude00", "n": "\u00e9"}') == {"e": "\U0001f600", "n": "é"}


def test_nul_in_a_string_is_a_400() -> None:
    # PostgreSQL refuses NUL in text: "\u0000" anywhere was a 500 there
    for raw in (rb'{"name": "a\u0000b"}', rb'{"a\u0000": 1}', rb'["\u0000"]'):
        assert "NUL" in _refused(raw)
    escaped = jsonbody.parse(rb'{"name": "a\\u0000b"}')  # a backslash, then "u0000"
    assert escaped == {"name": "a\\u0000b"}


def test_json_must_be_utf8() -> None:
    assert jsonbody.parse(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}
    # UTF-16 (which json.loads would detect) could smuggle escapes past the checks
    assert "not valid JSON" in _refused('{"a": "\\u0000"}'.encode("utf-16"))
