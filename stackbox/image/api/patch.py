"""JSON patch of an image in either of Glance's media types (`MEDIA_TYPES`): v2.1
operations name their op (`{"op": "add", "path": "/x", "value": …}`), v2.0 ones are
keyed by it (`{"add": "/x", "value": …}`) and may not `add` what is already there
(409). Both support `add`, `replace` and `remove` on one attribute each (`/name`,
`/tags`, `/visibility`, extra properties…), with Glance's answers: 403 for read-only,
reserved and protected attributes, 409 to replace or remove a property that is not
there, 400 for anything malformed. `parse` checks the whole request before `apply`
changes anything, as Glance does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.image.api import attrs
from stackbox.image.models import Image, ImageProperty, ImageTag

OPS = ("add", "replace", "remove")
# Media type -> JSON-patch draft Glance names it after.
MEDIA_TYPES = {
    "application/openstack-images-v2.0-json-patch": 4,
    "application/openstack-images-v2.1-json-patch": 10,
}


@dataclass(frozen=True)
class Op:
    op: str
    attr: str
    value: Any = None
    strict_add: bool = False  # v2.0: adding an attribute that is already there is a 409


def media_type_error() -> errors.UnsupportedMediaType:
    allowed = ", ".join(sorted(MEDIA_TYPES))
    return errors.UnsupportedMediaType(
        f"Image PATCH expects Content-Type one of: {allowed}", headers={"Accept-Patch": allowed}
    )


def _pointer_error(path: str) -> str | None:
    """What is wrong with `path` as a JSON pointer (Glance's accepted subset)."""
    if not path.startswith("/"):
        return f'Pointer `{path}` does not start with "/".'
    if re.search(r"/\s*?/", path[1:]):
        return f'Pointer `{path}` contains adjacent "/".'
    if len(path) > 1 and path.endswith("/"):
        return f'Pointer `{path}` end with "/".'
    if re.search("~[^01]", path) or path.endswith("~"):
        return f'Pointer `{path}` contains "~" not part of a recognized escape sequence.'
    return None


def _attr(path: Any) -> str:
    if not isinstance(path, str):
        raise errors.BadRequest(f"Invalid JSON pointer for this resource: {path!r}.")
    problem = _pointer_error(path)
    if problem:
        raise errors.BadRequest(problem)
    parts = [p.replace("~1", "/").replace("~0", "~").strip() for p in path[1:].split("/")]
    if len(parts) != 1:
        if parts[0] == "locations":
            raise errors.Forbidden("It's not allowed to update locations.")
        raise errors.BadRequest(f"Invalid JSON pointer for this resource: '{path}'")
    return parts[0]


def _op_and_path(item: dict, draft: int) -> tuple[str, Any]:
    if draft == 4:
        named = [k for k in OPS if k in item]
        if len(named) != 1:
            how = "only one member" if named else "exactly one member"
            raise errors.BadRequest(
                f'Operation objects must contain {how} named "add", "remove", or "replace".'
            )
        return named[0], item[named[0]]
    op = item.get("op")
    if op not in OPS:
        raise errors.BadRequest(
            f"Invalid operation: `{op}`. It must be one of the following: add, remove, replace."
        )
    if "path" not in item:
        raise errors.BadRequest("Unable to find 'path' in JSON Schema change")
    return op, item["path"]


def parse(body: Any, draft: int = 10) -> list[Op]:
    """The operations of a patch body in `draft` (400/403 before anything changes)."""
    if not isinstance(body, list):
        raise errors.BadRequest("Request body must be a JSON array of operation objects.")
    ops = []
    for item in body:
        if not isinstance(item, dict):
            raise errors.BadRequest("Operations must be JSON objects.")
        op, path = _op_and_path(item, draft)
        attr = _attr(path)
        if op != "remove" and "value" not in item:
            raise errors.BadRequest(f'Operation "{op}" requires a member named "value".')
        if attr != "tags" and attr not in attrs.SETTABLE:
            attrs.check_name_allowed(attr)
        ops.append(Op(op, attr, item.get("value"), strict_add=draft == 4))
    return ops


def apply(req: Req, img: Image, ops: list[Op]) -> None:
    """Apply the operations in order (all or nothing: the request's transaction)."""
    for op in ops:
        if op.op == "add" and op.strict_add and _present(img, op.attr):
            _conflict_on_add(req, img, op)
        if op.attr == "tags":
            set_tags(img, [] if op.op == "remove" else attrs.tags_value(req, op.value))
        elif op.attr in attrs.SETTABLE:
            _core(req, img, op)
        else:
            _extra(req, img, op)


def _present(img: Image, attr: str) -> bool:
    return attr == "tags" or attr in attrs.SETTABLE or attr in img.extra


def _conflict_on_add(req: Req, img: Image, op: Op) -> None:
    """A v2.0 `add` of something the image has: the visibility policy first, as Glance."""
    if op.attr == "visibility":
        attrs.check_visibility(req, attrs.core_value(req, op.attr, op.value), img.owner)
    raise errors.Conflict(f"Property {op.attr} already present.")


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
