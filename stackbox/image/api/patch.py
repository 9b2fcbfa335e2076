"""JSON patch of an image (`application/openstack-images-v2.1-json-patch`): the ops
`add`, `replace` and `remove` on one attribute each (`/name`, `/tags`, `/visibility`,
extra properties…), with Glance's answers: 403 for read-only, reserved and protected
attributes, 409 to replace or remove a property that is not there, 400 for anything
malformed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.image.api import attrs
from stackbox.image.models import Image, ImageProperty, ImageTag

OPS = ("add", "replace", "remove")


@dataclass(frozen=True)
class Op:
    op: str
    attr: str
    value: Any = None


def _attr(path: Any) -> str:
    if not isinstance(path, str) or not path.startswith("/") or len(path) < 2:
        raise errors.BadRequest(f"Invalid JSON pointer for this resource: {path!r}.")
    parts = path[1:].split("/")
    if len(parts) != 1:
        if parts[0] == "locations":
            raise errors.Forbidden("It's not allowed to update locations.")
        raise errors.BadRequest(f"Nested paths are not allowed: {path!r}.")
    return parts[0].replace("~1", "/").replace("~0", "~")


def parse(body: Any) -> list[Op]:
    if not isinstance(body, list):
        raise errors.BadRequest("A JSON patch is a list of operations.")
    ops = []
    for item in body:
        if not isinstance(item, dict) or "op" not in item or "path" not in item:
            raise errors.BadRequest("Each operation needs an 'op' and a 'path'.")
        if item["op"] not in OPS:
            raise errors.BadRequest(
                f"Operation {item['op']!r} is not supported: use add, replace or remove."
            )
        if item["op"] != "remove" and "value" not in item:
            raise errors.BadRequest(f"Operation {item['op']!r} needs a 'value'.")
        ops.append(Op(item["op"], _attr(item["path"]), item.get("value")))
    return ops


def apply(req: Req, img: Image, ops: list[Op]) -> None:
    """Apply the operations in order (all or nothing: the request's transaction)."""
    for op in ops:
        if op.attr == "tags":
            set_tags(img, [] if op.op == "remove" else attrs.tags_value(req, op.value))
        elif op.attr in attrs.SETTABLE:
            _core(req, img, op)
        else:
            attrs.check_name_allowed(op.attr)
            _extra(req, img, op)


def _core(req: Req, img: Image, op: Op) -> None:
    if op.op == "remove":
        raise errors.Forbidden(f"Attribute '{op.attr}' is a core attribute: it can't be removed.")
    value = attrs.core_value(req, op.attr, op.value)
    fmt = op.attr in ("disk_format", "container_format")
    if fmt and img.status != "queued" and value != getattr(img, op.attr):
        raise errors.Forbidden(f"Attribute {op.attr} can be only replaced for a queued image.")
    if op.attr == "visibility" and value != img.visibility:
        attrs.check_visibility(req, value, img.owner)
    setattr(img, op.attr, value)


def _extra(req: Req, img: Image, op: Op) -> None:
    current = {p.name: p for p in img.properties}
    prop = current.get(op.attr)
    if op.op == "remove":
        if prop is None:
            raise errors.Conflict(f"Property {op.attr} does not exist.")
        attrs.check_protection(req, op.attr, "delete")
        img.properties.remove(prop)
        return
    value = attrs.extra_value(op.attr, op.value)
    if prop is None:
        if op.op == "replace":
            raise errors.Conflict(f"Property {op.attr} does not exist.")
        attrs.check_protection(req, op.attr, "create")
        img.properties.append(ImageProperty(name=op.attr, value=value))
    else:
        attrs.check_protection(req, op.attr, "update")
        prop.value = value


def set_tags(img: Image, values: list[str]) -> None:
    """Make `img.tags` exactly `values`, keeping the rows of tags it already has."""
    have = {t.value: t for t in img.tags}
    img.tags = [have.get(v) or ImageTag(value=v) for v in values]
