"""Flavors: GET /v2.1/flavors and /flavors/detail (filters, sorting, paging),
GET /v2.1/flavors/{id}, and the admin calls POST /v2.1/flavors, PUT /v2.1/flavors/{id}
(description, 2.55+) and DELETE /v2.1/flavors/{id}. The JSON shapes are in
`flavor_views.py`; access lists and extra specs have their own modules.

Listing follows Nova: non-admins see enabled flavors that are public or shared with their
project; admins see the same unless they pass `is_public=false` (private only) or
`is_public=None` (everything, what the SDK sends).
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload, selectinload

from stackbox.api import errors
from stackbox.api.framework import Req, Router, validate
from stackbox.compute.api import common, flavor_views
from stackbox.compute.api.microversion import version
from stackbox.compute.models import Flavor

MAX_INT = 0x7FFFFFFF
SORT_KEYS = {
    "created_at": Flavor.created_at,
    "description": Flavor.description,
    "disabled": Flavor.disabled,
    "ephemeral_gb": Flavor.ephemeral_gb,
    "flavorid": Flavor.flavorid,
    "id": Flavor.id,
    "is_public": Flavor.is_public,
    "memory_mb": Flavor.memory_mb,
    "name": Flavor.name,
    "root_gb": Flavor.root_gb,
    "rxtx_factor": Flavor.rxtx_factor,
    "swap": Flavor.swap,
    "updated_at": Flavor.updated_at,
    "vcpu_weight": Flavor.vcpu_weight,
    "vcpus": Flavor.vcpus,
}
LIST_QUERY = frozenset(
    {"limit", "marker", "is_public", "minRam", "minDisk", "sort_key", "sort_dir"}
)
_TRUE = {"1", "t", "true", "on", "y", "yes"}
_FALSE = {"0", "f", "false", "off", "n", "no"}
_BOOL_WORDS = ("True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes")
_BOOL_WORDS_F = ("False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no")
_BOOLEAN = {"enum": [True, False, *_BOOL_WORDS, *_BOOL_WORDS_F]}
# Printable, no leading or trailing whitespace (Nova's "name" format).
_NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$",
}
_SIZE = {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1, "maximum": MAX_INT}
_SIZE0 = {**_SIZE, "minimum": 0}
_DESCRIPTION = {
    "type": ["string", "null"],
    "maxLength": 65535,
    "pattern": r"^[^\x00-\x1f\x7f]*$",
}
_FLAVOR_PROPS: dict[str, Any] = {
    "name": _NAME,
    "id": {
        "type": ["string", "number", "null"],
        "minLength": 1,
        "maxLength": 255,
        "pattern": "^(?! )[a-zA-Z0-9. _-]+(?<! )$",
    },
    "ram": _SIZE,
    "vcpus": _SIZE,
    "disk": _SIZE0,
    "OS-FLV-EXT-DATA:ephemeral": _SIZE0,
    "swap": _SIZE0,
    "rxtx_factor": {
        "type": ["number", "string"],
        "pattern": r"^[0-9]+(\.[0-9]+)?$",
        "exclusiveMinimum": 0,
        "maximum": 3.40282e38,
    },
    "os-flavor-access:is_public": _BOOLEAN,
}


def _create_schema(with_description: bool) -> dict:
    props = dict(_FLAVOR_PROPS)
    if with_description:
        props["description"] = _DESCRIPTION
    return {
        "type": "object",
        "properties": {
            "flavor": {
                "type": "object",
                "properties": props,
                "required": ["name", "ram", "vcpus", "disk"],
                "additionalProperties": False,
            }
        },
        "required": ["flavor"],
        "additionalProperties": False,
    }


CREATE = _create_schema(False)
CREATE_V255 = _create_schema(True)
UPDATE = {
    "type": "object",
    "properties": {
        "flavor": {
            "type": "object",
            "properties": {"description": _DESCRIPTION},
            "required": ["description"],
            "additionalProperties": False,
        }
    },
    "required": ["flavor"],
    "additionalProperties": False,
}


def _int_filter(req: Req, name: str) -> int | None:
    raw = req.query.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.BadRequest(f"Invalid {name} filter [{raw}]") from None


def _is_public(req: Req) -> bool | None:
    """Admin's is_public filter: True (default), False, or None for everything."""
    raw = req.query.get("is_public")
    if raw is None:
        return True
    word = raw.strip().lower()
    if word == "none":
        return None
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise errors.BadRequest(f"Invalid is_public filter [{raw}]")


def _choice(req: Req, name: str, default: str, allowed: Any) -> str:
    value = req.query.get(name) or default
    if value not in allowed:
        raise errors.BadRequest(
            f"Invalid input for query parameters {name}. Value: {value}. "
            f"'{value}' is not one of {sorted(allowed)}"
        )
    return value


def list_flavors(req: Req, *, specs: bool = False) -> tuple[list[Flavor], int]:
    """The flavors a list call returns, and the page size asked for. Only the extra
    specs are loaded with them, and only when the view shows them (`specs`)."""
    if version(req) >= (2, 75):
        common.reject_unknown_query(req, LIST_QUERY)
    sort_key = _choice(req, "sort_key", "flavorid", SORT_KEYS)
    sort_dir = _choice(req, "sort_dir", "asc", ("asc", "desc"))
    limit, marker = common.paging(req)
    if flavor_views.is_admin(req):
        public = _is_public(req)
        scope = "visible" if public is True else "private" if public is False else "all"
    else:
        scope = "visible_enabled"
    min_ram = _int_filter(req, "minRam")
    min_disk = _int_filter(req, "minDisk")
    stmt = _list_statement(
        scope, min_ram is not None, min_disk is not None, sort_key, sort_dir, specs
    )
    params = {"project": req.context.project_id, "min_ram": min_ram, "min_disk": min_disk}
    rows = list(req.db.scalars(stmt, params))
    if marker is not None:
        ids = [f.flavorid for f in rows]
        if marker not in ids:
            raise errors.BadRequest(f"marker [{marker}] not found")
        rows = rows[ids.index(marker) + 1 :]
    return rows[:limit], limit


@functools.lru_cache(maxsize=256)
def _list_statement(
    scope: str, min_ram: bool, min_disk: bool, sort_key: str, sort_dir: str, specs: bool
) -> Any:
    """The list query of one shape, built once; values come as bound parameters
    ("project", "min_ram", "min_disk"). Building it costs more than running it."""
    q = select(Flavor).options(
        lazyload(Flavor.projects),
        selectinload(Flavor.extra_specs) if specs else lazyload(Flavor.extra_specs),
    )
    if scope in ("visible", "visible_enabled"):
        q = q.where(flavor_views.visible_to(bindparam("project")))
    elif scope == "private":
        q = q.where(Flavor.is_public.is_(False))
    if scope == "visible_enabled":
        q = q.where(Flavor.disabled.is_(False))
    if min_ram:
        q = q.where(Flavor.memory_mb >= bindparam("min_ram"))
    if min_disk:
        q = q.where(Flavor.root_gb >= bindparam("min_disk"))
    col = SORT_KEYS[sort_key]
    order = (col.desc(), Flavor.id.desc()) if sort_dir == "desc" else (col.asc(), Flavor.id.asc())
    return q.order_by(*order)


def _listing(req: Req, collection: str, items: list[dict], rows: list[Flavor], limit: int) -> dict:
    body: dict[str, Any] = {"flavors": items}
    if rows and len(rows) == limit:
        body["flavors_links"] = common.next_link_keeping(req, collection, rows[-1].flavorid)
    return body


def _to_int(value: Any, name: str, minimum: int) -> int:
    number = int(value)
    if not minimum <= number <= MAX_INT:
        raise errors.BadRequest(
            f"Invalid input for field/attribute {name}. Value: {value}. "
            f"{name} must be >= {minimum} and <= {MAX_INT}"
        )
    return number


def _public_flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in _TRUE


def register(router: Router) -> None:
    @router.route("GET", "/v2.1/flavors")
    def index(req: Req) -> dict:
        rows, limit = list_flavors(req)
        items = [flavor_views.basic(req, f) for f in rows]
        return _listing(req, "flavors", items, rows, limit)

    @router.route("GET", "/v2.1/flavors/detail")
    def detail(req: Req) -> dict:
        specs = flavor_views.may_read_specs(req)
        rows, limit = list_flavors(req, specs=specs)
        items = [flavor_views.show(req, f, specs=specs) for f in rows]
        return _listing(req, "flavors/detail", items, rows, limit)

    @router.route("GET", "/v2.1/flavors/{flavor_id}")
    def show(req: Req) -> dict:
        flavor = flavor_views.get_flavor(req, req.params["flavor_id"])
        return {"flavor": flavor_views.show(req, flavor)}

    @router.route("POST", "/v2.1/flavors")
    def create(req: Req) -> dict:
        req.authorize("os_compute_api:os-flavor-manage:create", {})
        with_description = version(req) >= (2, 55)
        validate(CREATE_V255 if with_description else CREATE, req.body)
        vals = req.body["flavor"]
        name = vals["name"].strip()
        raw_id = vals.get("id")
        flavorid = str(raw_id) if raw_id not in (None, "") else str(uuid.uuid4())
        ram = _to_int(vals["ram"], "ram", 1)
        vcpus = _to_int(vals["vcpus"], "vcpus", 1)
        disk = _to_int(vals["disk"], "disk", 0)
        ephemeral = _to_int(vals.get("OS-FLV-EXT-DATA:ephemeral", 0), "ephemeral", 0)
        swap = _to_int(vals.get("swap", 0), "swap", 0)
        rxtx = float(vals.get("rxtx_factor", 1.0))
        if not 0 < rxtx <= 3.40282e38:
            raise errors.BadRequest(
                "'rxtx_factor' argument must be a float between 0 and 3.40282e+38"
            )
        db = req.db
        if db.scalar(select(Flavor.id).where(Flavor.name == name)) is not None:
            raise errors.Conflict(f"Flavor with name {name} already exists.")
        if db.scalar(select(Flavor.id).where(Flavor.flavorid == flavorid)) is not None:
            raise errors.Conflict(f"Flavor with ID {flavorid} already exists.")
        flavor = Flavor(
            flavorid=flavorid,
            name=name,
            memory_mb=ram,
            vcpus=vcpus,
            root_gb=disk,
            ephemeral_gb=ephemeral,
            swap=swap,
            rxtx_factor=rxtx,
            disabled=False,
            is_public=_public_flag(vals.get("os-flavor-access:is_public", True)),
            description=vals.get("description") if with_description else None,
        )
        try:
            with db.begin_nested():
                db.add(flavor)
        except IntegrityError:
            raise errors.Conflict(f"Flavor with ID {flavorid} already exists.") from None
        specs = flavor_views.may_read_specs(req)
        return {"flavor": flavor_views.show(req, flavor, specs=specs)}

    @router.route("PUT", "/v2.1/flavors/{flavor_id}")
    def update(req: Req) -> dict:
        if version(req) < (2, 55):
            raise errors.NotFound("The resource could not be found.")
        req.authorize("os_compute_api:os-flavor-manage:update", {})
        validate(UPDATE, req.body)
        flavor = flavor_views.get_flavor(req, req.params["flavor_id"])
        flavor.description = req.body["flavor"]["description"]
        req.db.flush()
        return {"flavor": flavor_views.show(req, flavor)}

    @router.route("DELETE", "/v2.1/flavors/{flavor_id}", status=202)
    def delete(req: Req) -> None:
        req.authorize("os_compute_api:os-flavor-manage:delete", {})
        flavor = flavor_views.get_flavor(req, req.params["flavor_id"])
        req.db.delete(flavor)
