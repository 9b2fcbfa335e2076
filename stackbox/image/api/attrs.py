"""Checking image attributes a client sets (on create and in a JSON patch): types and
limits as Glance's image schema has them, formats from configuration, read-only and
reserved names (403), property protections and the visibility policies. Raises
ApiErrors; touches no database."""

from __future__ import annotations

import uuid
from typing import Any

from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.image.api import common

INT_ATTRS = ("min_disk", "min_ram")
BOOL_ATTRS = ("protected", "os_hidden")
# Core attributes a client may set (besides tags and extra properties).
SETTABLE = (
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "min_disk",
    "min_ram",
    "disk_format",
    "container_format",
    "owner",
)
MAX_INT = 2**31 - 1


def check_name_allowed(name: str) -> None:
    if name in common.READ_ONLY:
        raise errors.Forbidden(f"Attribute '{name}' is read-only.")
    if name in common.RESERVED or name.startswith(common.RESERVED_NAMESPACE):
        raise errors.Forbidden(f"Attribute '{name}' is reserved.")


def core_value(req: Req, name: str, value: Any) -> Any:
    """A validated value for core attribute `name` (400 when it is not acceptable)."""
    if name == "name":
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise errors.BadRequest("Invalid value for 'name': a string of at most 255 characters.")
        return value
    if name == "visibility":
        if value not in common.VISIBILITIES:
            raise errors.BadRequest(
                f"Invalid value for 'visibility': {value!r} is not one of "
                f"{', '.join(common.VISIBILITIES)}."
            )
        return value
    if name in BOOL_ATTRS:
        if not isinstance(value, bool):
            raise errors.BadRequest(f"Invalid value for '{name}': {value!r} is not a boolean.")
        return value
    if name in INT_ATTRS:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
            raise errors.BadRequest(
                f"Invalid value for '{name}': {value!r} is not a non-negative integer."
            )
        return value
    if name in ("disk_format", "container_format"):
        allowed = req.state.cfg.get("image", name + "s")
        if value is not None and value not in allowed:
            raise errors.BadRequest(
                f"Invalid value for '{name}': {value!r} is not one of {', '.join(allowed)}."
            )
        return value
    if name == "owner":
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise errors.BadRequest("Invalid value for 'owner'.")
        if not req.context.is_admin and value != req.context.project_id:
            raise errors.Forbidden("Owner can't be updated by non admin.")
        return value
    raise errors.BadRequest(f"Unknown attribute {name!r}.")  # pragma: no cover


def tags_value(req: Req, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise errors.BadRequest("Invalid value for 'tags': a list of strings.")
    out: list[str] = []
    for t in value:
        if not t or len(t) > 255:
            raise errors.BadRequest("Invalid value for 'tags': tags are 1 to 255 characters.")
        if t not in out:
            out.append(t)
    if len(out) > req.state.cfg.get("image", "image_tag_quota"):
        raise errors.PayloadTooLarge("Maximum number of tags exceeded.")
    return out


def extra_value(name: str, value: Any) -> str:
    if not name or len(name) > 255:
        raise errors.BadRequest("Property names are 1 to 255 characters.")
    if not isinstance(value, str):
        raise errors.BadRequest(
            f"Invalid value for property '{name}': {value!r} is not a string "
            "(extra properties are strings)."
        )
    if len(value) > 65535:
        raise errors.BadRequest(f"Value of property '{name}' is too long.")
    return value


def check_protection(req: Req, name: str, op: str) -> None:
    if not common.prop_allowed(req, name, op):
        raise errors.Forbidden(f"Property '{name}' is protected: {op} is not allowed.")


def check_visibility(req: Req, visibility: str, owner: str | None) -> None:
    """Only admins publicize; owners may make images community (Glance's policies)."""
    target = {"project_id": owner, "visibility": visibility}
    if visibility == "public" and not req.allowed("publicize_image", target):
        raise errors.Forbidden("You are not authorized to complete publicize_image action.")
    if visibility == "community" and not req.allowed("communitize_image", target):
        raise errors.Forbidden("You are not authorized to complete communitize_image action.")


def image_id(value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise errors.BadRequest(f"Invalid value for 'id': {value!r} is not a UUID.") from None
