"""A request body's JSON, refused with a 400 when it is not something every handler,
validator and database below can take: malformed, nested past any OpenStack body, or
holding text that is not Unicode (an unpaired surrogate escape such as "\\ud800",
which Python's parser accepts and every UTF-8 encoder after it refuses) or a NUL
("\\u0000", which no PostgreSQL text column takes).

Only parsing lives here; what the body must contain is each route's schema."""

from __future__ import annotations

import json
import re
from typing import Any

from stackbox.api import errors

# No OpenStack body nests deeper than a dozen levels. Deeper input is refused before
# anything walks it: the parser, the validator and every encoder recurse per level.
MAX_JSON_DEPTH = 64

# A \uD800-\uDFFF or \u0000 escape: the only ways a lone surrogate or a NUL gets into
# a parsed string (the parser refuses raw control characters).
_SUSPECT_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")


def parse(raw: bytes) -> Any:
    """The JSON of `raw` (None when empty); 400 when malformed, nested deeper than
    MAX_JSON_DEPTH or holding an unpaired surrogate or a NUL."""
    if not raw.strip():
        return None
    too_deep = errors.BadRequest(
        f"Malformed request body: it is nested deeper than {MAX_JSON_DEPTH} levels."
    )
    try:
        text = raw.decode("utf-8-sig")  # JSON is UTF-8 (RFC 8259); a BOM is tolerated
        value = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise errors.BadRequest("Malformed request body: it is not valid JSON.") from None
    except RecursionError:  # deeper than the parser itself can go
        raise too_deep from None
    strings = _SUSPECT_ESCAPE.search(text) is not None
    problem = _walk(value, MAX_JSON_DEPTH, strings)
    if problem == "depth":
        raise too_deep
    if problem == "text":
        raise errors.BadRequest(
            "Malformed request body: a string holds a NUL character or an unpaired "
            "surrogate (not Unicode text)."
        )
    return value


def _walk(value: Any, limit: int, strings: bool) -> str | None:
    """ "depth" if `value` nests deeper than `limit`, "text" if `strings` and one of its
    keys or strings cannot be encoded as UTF-8, else None (one pass, no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if strings and not is_text(item):
                return "text"
            continue
        if isinstance(item, dict):
            children: Any = item.values()
            if strings and not all(is_text(k) for k in item):
                return "text"
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return "depth"
        stack.extend((child, depth + 1) for child in children)
    return None


def is_text(s: str) -> bool:
    """Whether `s` can be stored as text anywhere: UTF-8 encodable, without NUL."""
    if "\x00" in s:
        return False
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
