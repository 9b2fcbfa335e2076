"""A request body's JSON, refused with a 400 when it is not something every handler,
validator and database below can take: malformed, nested past any OpenStack body, or
holding text that is not Unicode (an unpaired surrogate escape such as "\\ud800",
which Python's parser accepts and every UTF-8 encoder after it refuses).

Only parsing lives here; what the body must contain is each route's schema."""

from __future__ import annotations

import json
import re
from typing import Any

from stackbox.api import errors

# No OpenStack body nests deeper than a dozen levels. Deeper input is refused before
# anything walks it: the parser, the validator and every encoder recurse per level.
MAX_JSON_DEPTH = 64

# A \uD800-\uDFFF escape: the only way a lone surrogate gets into a parsed string.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def parse(raw: bytes) -> Any:
    """The JSON of `raw` (None when empty); 400 when malformed, nested deeper than
    MAX_JSON_DEPTH or holding an unpaired surrogate."""
    if not raw.strip():
        return None
    too_deep = errors.BadRequest(
        f"Malformed request body: it is nested deeper than {MAX_JSON_DEPTH} levels."
    )
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise errors.BadRequest("Malformed request body: it is not valid JSON.") from None
    except RecursionError:  # deeper than the parser itself can go
        raise too_deep from None
    strings = _SURROGATE_ESCAPE.search(raw) is not None
    problem = _walk(value, MAX_JSON_DEPTH, strings)
    if problem == "depth":
        raise too_deep
    if problem == "text":
        raise errors.BadRequest(
            "Malformed request body: a string holds an unpaired surrogate (not Unicode text)."
        )
    return value


def _walk(value: Any, limit: int, strings: bool) -> str | None:
    """ "depth" if `value` nests deeper than `limit`, "text" if `strings` and one of its
    keys or strings cannot be encoded as UTF-8, else None (one pass, no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if strings and not _is_text(item):
                return "text"
            continue
        if isinstance(item, dict):
            children: Any = item.values()
            if strings and not all(_is_text(k) for k in item):
                return "text"
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return "depth"
        stack.extend((child, depth + 1) for child in children)
    return None


def _is_text(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
