"""The values of the API fuzz test (tests/api/fuzzgen.py draws from them): hostile
scalars per input class, and `dump`, a JSON writer that can emit what `json.dumps`
cannot -- duplicate keys, numbers out of every range, lone surrogates, any nesting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MB = 1024 * 1024


@dataclass(frozen=True)
class Raw:
    """JSON text emitted verbatim by `dump` (numbers and strings json.dumps refuses)."""

    text: str


class Dup(dict):
    """An object whose key `dup` is written twice: first `first`, then the real value."""

    def __init__(self, items: dict, dup: str, first: Any) -> None:
        super().__init__(items)
        self.dup, self.first = dup, first


def dump(value: Any) -> str:
    """JSON text of `value`, with `Raw` and `Dup` honoured; strings keep surrogates."""
    if isinstance(value, Raw):
        return value.text
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dict):
        parts = [f"{_string(str(k))}: {dump(v)}" for k, v in value.items()]
        if isinstance(value, Dup):
            parts.insert(0, f"{_string(value.dup)}: {dump(value.first)}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(dump(v) for v in value) + "]"
    return _string(str(value))


def _string(s: str) -> str:
    out = []
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif o < 0x20 or 0xD800 <= o <= 0xDFFF:
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


# --- hostile scalars, per class ----------------------------------------------------

HUGE_NUMBERS = [
    Raw("9223372036854775808"),  # 2**63
    Raw("-9223372036854775809"),
    Raw("18446744073709551616"),
    Raw("1" + "0" * 400),
    Raw("1e309"),
    Raw("-1e309"),
    Raw("-0"),
    Raw("-0.0"),
    Raw("1e-400"),
    Raw("NaN"),
    Raw("Infinity"),
    Raw("-Infinity"),
    2**31,
    -(2**31) - 1,
    2**53 + 1,
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e309",
    "9223372036854775808",
    "-9223372036854775809",
    "-0",
    "0x10",
    " 1",
    "1_000",
    "\uff11",  # a full-width digit: str.isdigit() says yes, int() says yes too
    "\u0661",  # an Arabic-Indic digit
]
WRONG_TYPES: list[Any] = [None, True, False, 0, -1, 1.5, "", "x", [], {}, [1, "a"], {"a": None}]
UNICODE = [
    "\u202eevil\u202c",  # right-to-left override
    "nul\x00byte",
    "\x00",
    "\ud800",  # lone high surrogate
    "\udfff tail",
    "\U0001f600\u0301\u0301",
    "\ufeffbom",
    "\uffff\ufffe",
    "zero\u200bwidth",
    "line\nbreak\r\n",
    "\u0130\u0131",  # dotted/dotless i (case folding)
    "\uff41\uff44\uff4d\uff49\uff4e",  # full-width "admin"
    "<script>x</script>",
    "' OR '1'='1",
    "%s%n%x",
    "../../etc/passwd",
]
PATH_SEGMENTS = [
    "0",
    "-1",
    "9223372036854775808",
    "1e309",
    "NaN",
    "-0",
    "..",
    ".",
    " ",
    "%00",
    "%2F",
    "a%2Fb",
    "%FF%FE",
    "%C0%AF",
    "%ED%A0%80",  # a UTF-8 encoded surrogate
    "%E2%80%AE",
    "%00abc",
    "null",
    "true",
    "[]",
    "{}",
    "'",
    '"',
    "%25",
    "~",
]
MICROVERSIONS = [
    "compute 2.999",
    "compute 2.0",
    "compute 3.0",
    "compute 1.1",
    "compute latest",
    "compute LATEST",
    "compute abc",
    "compute 2.1.1",
    "compute -2.5",
    "compute 2.99999999999999999999999",
    "compute 02.1",
    "compute",
    "",
    " ",
    "image 2.1",
    "compute 2.1, compute 2.90",
    "compute \u00b2.1",
    "volume 3.0",
]
CONTENT_TYPES = [
    "text/plain",
    "application/xml",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "application/json; charset=latin-1",
    "application/json; charset=utf-16",
    "application/octet-stream",
    "application/openstack-images-v2.1-json-patch",
    "application/merge-patch+json",
    "*/*",
    ";;;",
    "",
]
INVALID_JSON = [
    b"{",
    b"[",
    b"{'a': 1}",
    b'{"a": 1,}',
    b'{"a" 1}',
    b"nul",
    b"\x00",
    b"\xef\xbb\xbf{}",
    b'{"a": "\\x"}',
    b'{"a": "\\ud800\\u"}',
    b"1",
    b'"x"',
    b"null",
    b"[]",
    b"true",
    b"{}{}",
    b'{"a": 01}',
    b"\xff\xfe{\x00}\x00",
    b"  \t\n ",
]
QUERY_NAMES = [
    "limit",
    "marker",
    "sort_key",
    "sort_dir",
    "sort",
    "name",
    "status",
    "all_tenants",
    "all_projects",
    "project_id",
    "tenant_id",
    "user_id",
    "domain_id",
    "changes-since",
    "changes-before",
    "visibility",
    "member_status",
    "owner",
    "tag",
    "tags",
    "tags-any",
    "not-tags",
    "minDisk",
    "minRam",
    "is_public",
    "deleted",
    "ip",
    "flavor",
    "image",
    "host",
    "start",
    "end",
    "detailed",
    "with_servers",
    "include_subtree",
    "effective",
    "scope.project.id",
    "role.id",
    "parent_id",
    "enabled",
    "size_min",
    "size_max",
    "created_at",
    "resource_types",
]
