"""Hostile inputs for the API fuzz test (tests/api/test_fuzz.py): a seeded generator of
request bodies, query strings, headers and path segments, one input class at a time.

Bodies start from the route's own JSON schemas (the route's `schema`, else every
schema-shaped constant of the handler's module, so a new route or action is covered
without a list here), are filled in to a conforming instance and then broken in one
place. The values and the JSON writer are in tests/api/fuzzvalues.py.

Nothing here sends a request or knows the app; it only takes a `random.Random`."""

from __future__ import annotations

import inspect
import random
import re
import sys
import uuid
from typing import Any
from urllib.parse import quote

from tests.api.fuzzvalues import (
    HUGE_NUMBERS,
    MB,
    PATH_SEGMENTS,
    QUERY_NAMES,
    UNICODE,
    WRONG_TYPES,
    Dup,
    Raw,
)

CLASSES = (
    "valid_ish",
    "wrong_type",
    "huge_number",
    "deep_nesting",
    "unicode",
    "long_string",
    "bad_utf8",
    "invalid_json",
    "missing_fields",
    "duplicate_keys",
    "wrong_content_type",
    "bad_microversion",
    "bad_token",
    "hostile_path_id",
    "hostile_query",
)


def _ident_strings(obj: Any) -> list[str]:
    """Query-parameter-like literals in the source of `obj`'s module."""
    module = inspect.getmodule(obj)
    try:
        src = inspect.getsource(module) if module else ""
    except (OSError, TypeError):
        return []
    found = set(re.findall(r'"([a-z][a-zA-Z0-9_:.\-]{1,40})"', src))
    return sorted(found)


def schemas_for(spec: Any) -> list[dict]:
    """The JSON schemas that may describe `spec`'s body: its own, else every
    schema-shaped constant (nested in dicts, lists and tuples) of the handler's module."""
    if spec.schema is not None:
        return [spec.schema]
    module = sys.modules.get(spec.handler.__module__)
    found: list[dict] = []

    def walk(v: Any, depth: int) -> None:
        if depth > 4 or len(found) > 200:
            return
        if isinstance(v, dict):
            if v.get("type") == "object" and "properties" in v:
                found.append(v)
                return
            for x in v.values():
                walk(x, depth + 1)
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x, depth + 1)

    for name, value in vars(module or object()).items():
        if name.isupper() or name.startswith("_"):
            walk(value, 0)
    return found


class Gen:
    """One seeded stream of hostile inputs."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._names: dict[str, list[str]] = {}

    # --- conforming instances --------------------------------------------------
    def instance(self, schema: Any, depth: int = 0) -> Any:
        r = self.rng
        if not isinstance(schema, dict) or depth > 6:
            return "x"
        for key in ("oneOf", "anyOf"):
            if schema.get(key):
                return self.instance(r.choice(schema[key]), depth + 1)
        if schema.get("allOf"):
            return self.instance(schema["allOf"][0], depth + 1)
        if schema.get("enum"):
            return r.choice(schema["enum"])
        if "const" in schema:
            return schema["const"]
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if isinstance(kind, list):
            kind = r.choice(kind)
        if kind == "object":
            props = schema.get("properties", {})
            required = set(schema.get("required", ()))
            out = {}
            for k, sub in props.items():
                if k in required or r.random() < 0.5:
                    out[k] = self.instance(sub, depth + 1)
            return out
        if kind == "array":
            items = schema.get("items", {"type": "string"})
            n = max(schema.get("minItems", 0), r.randint(0, 2))
            return [self.instance(items, depth + 1) for _ in range(n)]
        if kind in ("integer", "number"):
            lo, hi = schema.get("minimum", 0), schema.get("maximum", 100)
            return r.randint(int(lo), int(max(lo, min(hi, lo + 100))))
        if kind == "boolean":
            return r.random() < 0.5
        if kind == "null":
            return None
        if schema.get("format") == "uuid":
            return str(uuid.UUID(int=r.getrandbits(128)))
        n = max(schema.get("minLength", 1), 1)
        return "fz" + "".join(r.choice("abcdefgh0123") for _ in range(max(n, 6)))

    def body_for(self, spec: Any) -> Any:
        """A conforming-ish body for `spec` (from its schemas), or a guess."""
        found = schemas_for(spec)
        if found:
            return self.instance(self.rng.choice(found))
        return {"fuzz": {"name": "fz-" + str(self.rng.randint(0, 9999))}}

    # --- hostile values ----------------------------------------------------------
    def hostile(self, cls: str) -> Any:
        r = self.rng
        if cls == "wrong_type":
            return r.choice(WRONG_TYPES)
        if cls == "huge_number":
            return r.choice(HUGE_NUMBERS)
        if cls == "deep_nesting":
            n = r.choice([10_000, 1_000, 200, 50_000])
            opener, closer = r.choice([("[", "]"), ('{"a":', "}")])
            return Raw(opener * n + "1" + closer * n)
        if cls == "unicode":
            return r.choice(UNICODE)
        if cls == "long_string":
            return r.choice(["a", "\u00e9", "\U0001f600", "0"]) * r.choice([MB, 64 * 1024, 256])
        return r.choice(WRONG_TYPES + HUGE_NUMBERS + UNICODE)

    def mutate(self, body: Any, cls: str) -> Any:
        """`body` broken in one place according to `cls`."""
        r = self.rng
        if cls == "valid_ish":
            return body
        if cls == "missing_fields":
            return self._drop(body)
        if cls == "duplicate_keys":
            return self._dup(body)
        value = self.hostile(cls)
        if r.random() < 0.15:
            return value  # the whole body
        return self._replace(body, value)

    def _leaf_paths(self, v: Any, path: tuple = ()) -> list[tuple]:
        out = [path]
        if isinstance(v, dict):
            for k, x in v.items():
                out += self._leaf_paths(x, (*path, k))
        elif isinstance(v, list):
            for i, x in enumerate(v):
                out += self._leaf_paths(x, (*path, i))
        return out

    def _replace(self, body: Any, value: Any) -> Any:
        paths = self._leaf_paths(body)
        target = self.rng.choice(paths[1:] or paths)
        return _set(body, target, value)

    def _drop(self, body: Any) -> Any:
        paths = [p for p in self._leaf_paths(body) if p]
        if not paths or self.rng.random() < 0.2:
            return self.rng.choice([None, {}, {"x": {}}])
        target = self.rng.choice(paths)
        return _set(body, target, _DROP)

    def _dup(self, body: Any) -> Any:
        if not isinstance(body, dict) or not body:
            return Dup({"a": 1}, "a", "first")
        key = self.rng.choice(list(body))
        inner = body[key]
        if isinstance(inner, dict) and inner and self.rng.random() < 0.6:
            k2 = self.rng.choice(list(inner))
            return {**body, key: Dup(inner, k2, self.hostile("wrong_type"))}
        return Dup(body, key, self.hostile("wrong_type"))

    # --- paths, queries, headers -----------------------------------------------
    def path_segment(self) -> str:
        r = self.rng
        roll = r.random()
        if roll < 0.15:
            return _long(r.choice("a\u00e9/\U0001f600"))
        if roll < 0.55:
            return r.choice(PATH_SEGMENTS)  # already percent-encoded
        return _q(_text(self.hostile(r.choice(["unicode", "huge_number"]))))

    def query(self, spec: Any) -> str:
        """A query string: names the handler's module spells (else common ones), each
        with a hostile value, sometimes twice."""
        r = self.rng
        key = spec.handler.__module__
        if key not in self._names:
            self._names[key] = _ident_strings(spec.handler) or QUERY_NAMES
        parts = []
        for _ in range(r.randint(1, 4)):
            name = r.choice(self._names[key] if r.random() < 0.7 else QUERY_NAMES)
            roll = r.random()
            if roll < 0.1:
                parts.append(_q(name) + "=" + _long(r.choice("v\u00e9")))
                continue
            if roll < 0.25:
                parts.append(f"{_q(name)}={r.choice(['%FF', '%C0%AF', '%ED%A0%80', '%00'])}")
                continue
            value = _text(
                self.hostile(r.choice(["wrong_type", "huge_number", "huge_number", "unicode"]))
            )
            parts.append(f"{_q(name)}={_q(value)}")
            if r.random() < 0.2:  # the same parameter twice
                parts.append(f"{_q(name)}={_q(value[:10])}")
        return "&".join(parts)

    def token(self, good: str) -> bytes:
        r = self.rng
        return r.choice(
            [
                b"",
                b"garbage",
                b"x" * 64 * 1024,
                good[:-3].encode(),
                (good[:-1] + ("A" if good[-1] != "A" else "B")).encode(),
                good.encode() + b"\xff",
                b"gAAAAA" + b"=" * 40,
                "t\u00e9".encode("latin-1"),
                b"\x00",
                good.encode() + b" " + good.encode(),
            ]
        )


_DROP = object()


# The test client refuses URLs over 64 KiB: a long segment or value is 60,000
# characters once percent-encoded.
LONG_URL_PART = 60_000


def _long(ch: str) -> str:
    """`ch` repeated to LONG_URL_PART characters of encoded URL."""
    one = _q(ch)
    return one * (LONG_URL_PART // len(one))


def _text(value: Any) -> str:
    """A hostile value as URL text (a `Raw` number as its digits)."""
    return value.text if isinstance(value, Raw) else str(value)


def _q(s: str) -> str:
    """`s` percent-encoded as one URL component (lone surrogates as their bytes)."""
    return quote(s, safe="", errors="surrogatepass")


def _set(body: Any, path: tuple, value: Any) -> Any:
    """A copy of `body` with the value at `path` replaced (removed if `_DROP`)."""
    if not path:
        return None if value is _DROP else value
    head, rest = path[0], path[1:]
    if isinstance(body, dict):
        out: Any = dict(body)
        if not rest and value is _DROP:
            out.pop(head, None)
        else:
            out[head] = _set(body[head], rest, value)
        return out
    out = list(body)
    if not rest and value is _DROP:
        del out[head]
    else:
        out[head] = _set(body[head], rest, value)
    return out
