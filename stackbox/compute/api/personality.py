"""Personality (files injected through the config drive) of create and rebuild before
microversion 2.57: the request schema of the `personality` list, the decoding of its
base64 contents and Nova's three injected-file limits.

The files are not stored: as in Nova they travel in the build (or rebuild) cast only,
as `[{"path", "contents"}]` with the contents still base64 (the bus carries JSON), and
the compute host writes them on the config drive (`compute/metadata.py`). A later config
drive (resize, unshelve, rescue) is written without them, as Nova's is.

Not here: the 2.57 cut-off of the schemas (server_create.py, server_action_resize.py).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.compute import quotas

SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"path": {"type": "string"}, "contents": {"type": "string"}},
        "additionalProperties": False,
    },
}
_BASE64 = re.compile(r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")


def decode(items: list[dict[str, str]]) -> list[tuple[str, bytes]]:
    """(path, content) of every file; 400 for contents that are not base64 (whitespace
    inside is ignored, as Nova ignores it)."""
    out = []
    for item in items:
        path = item.get("path", "")
        text = re.sub(r"\s", "", item.get("contents", ""))
        try:
            if not _BASE64.match(text):
                raise ValueError(text)
            out.append((path, base64.b64decode(text, validate=True)))
        except (binascii.Error, ValueError):
            raise errors.BadRequest(f"Personality content for {path} cannot be decoded") from None
    return out


def check_limits(files: list[tuple[str, bytes]], limits: Mapping[str, int]) -> None:
    """403 in Nova's words when the files break a limit: their number first, then the
    longest path, then the largest content (-1 is unlimited)."""
    count = limits["injected_files"]
    if 0 <= count < len(files):
        raise errors.Forbidden("Personality file limit exceeded")
    path_max = limits["injected_file_path_bytes"]
    if 0 <= path_max < max((len(p) for p, _ in files), default=0):
        raise errors.Forbidden(f"Personality file path exceeds maximum {path_max}")
    content_max = limits["injected_file_content_bytes"]
    if 0 <= content_max < max((len(c) for _, c in files), default=0):
        raise errors.Forbidden(f"Personality file content exceeds maximum {content_max}")


def injected_files(req: Req, items: list[dict[str, str]] | None) -> list[dict[str, str]] | None:
    """The files of a create or rebuild body as the cast carries them (None without a
    `personality`), once decoded and within the project's limits."""
    if items is None:
        return None
    files = decode(items)
    ctx = req.context
    check_limits(files, quotas.limits(req.db, ctx.project_id or "", None, req.state.cfg))
    return [
        {"path": path, "contents": base64.b64encode(content).decode("ascii")}
        for path, content in files
    ]
