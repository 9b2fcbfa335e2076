"""Flavor extra specs: GET/POST /v2.1/flavors/{id}/os-extra_specs and
GET/PUT/DELETE /v2.1/flavors/{id}/os-extra_specs/{key}.

Keys and values are stored as given (numbers as their string form). Only Nova's basic
syntax is enforced here: keys of 1-255 letters, digits, `-_:. `; values of at most 255
characters; a PUT body names exactly the key of its URL. What `hw:*` and friends mean
(Nova's 2.86 validation) belongs to whoever consumes them, not to this module.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from stackbox.api import errors
from stackbox.api.framework import Req, Router, validate
from stackbox.compute.api import flavor_views
from stackbox.compute.models import Flavor, FlavorExtraSpec

KEY_PATTERN = r"^[a-zA-Z0-9_:. -]{1,255}$"
_SPECS = {
    "type": "object",
    "patternProperties": {KEY_PATTERN: {"type": ["string", "number"], "maxLength": 255}},
    "additionalProperties": False,
}
CREATE = {
    "type": "object",
    "properties": {"extra_specs": _SPECS},
    "required": ["extra_specs"],
    "additionalProperties": False,
}
UPDATE = {**_SPECS, "minProperties": 1, "maxProperties": 1}


def _as_text(value: Any) -> str:
    if isinstance(value, bool):  # JSON true/false are not numbers; the schema refuses them
        raise errors.BadRequest("extra_specs value must be a string or a number")
    text = value if isinstance(value, str) else str(value)
    if len(text) > 255:
        raise errors.BadRequest(
            "Invalid input for field/attribute extra_specs value. "
            "extra_specs value has more than 255 characters."
        )
    return text


def _store(req: Req, flavor: Flavor, specs: dict[str, Any]) -> None:
    """Create or update `specs` on `flavor`; 409 when a concurrent request wrote the
    same key first (Nova's FlavorExtraSpecUpdateCreateFailed)."""
    texts = {key: _as_text(value) for key, value in specs.items()}
    by_key = {s.key: s for s in flavor.extra_specs}
    try:
        with req.db.begin_nested():
            for key, text in texts.items():
                if key in by_key:
                    by_key[key].value = text
                else:
                    flavor.extra_specs.append(FlavorExtraSpec(key=key, value=text))
    except IntegrityError:
        raise errors.Conflict(
            f"Flavor {flavor.flavorid} extra spec cannot be updated or created: "
            "another request changed it at the same time."
        ) from None


def _missing(flavor_id: str, key: str) -> errors.NotFound:
    return errors.NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")


def _reader_target(req: Req) -> dict[str, Any]:
    return {"project_id": req.context.project_id}


def register(router: Router) -> None:
    base = "/v2.1/flavors/{flavor_id}/os-extra_specs"

    @router.route("GET", base)
    def index(req: Req) -> dict:
        req.authorize("os_compute_api:os-flavor-extra-specs:index", _reader_target(req))
        flavor = flavor_views.get_flavor(req, req.params["flavor_id"])
        return {"extra_specs": flavor.specs}

    @router.route("POST", base)
    def create(req: Req) -> dict:
        req.authorize("os_compute_api:os-flavor-extra-specs:create", {})
        validate(CREATE, req.body)
        flavor = flavor_views.get_flavor(req, req.params["flavor_id"])
        _store(req, flavor, req.body["extra_specs"])
        return req.body

    @router.route("GET", base + "/{key}")
    def show(req: Req) -> dict:
        req.authorize("os_compute_api:os-flavor-extra-specs:show", _reader_target(req))
        flavor_id, key = req.params["flavor_id"], req.params["key"]
        specs = flavor_views.get_flavor(req, flavor_id).specs
        if key not in specs:
            raise _missing(flavor_id, key)
        return {key: specs[key]}

    @router.route("PUT", base + "/{key}")
    def update(req: Req) -> dict:
        req.authorize("os_compute_api:os-flavor-extra-specs:update", {})
        validate(UPDATE, req.body)
        key = req.params["key"]
        if key not in req.body:
            raise errors.BadRequest("Request body and URI mismatch")
        flavor = flavor_views.get_flavor(req, req.params["flavor_id"])
        _store(req, flavor, req.body)
        return req.body

    @router.route("DELETE", base + "/{key}")
    def delete(req: Req) -> Response:
        req.authorize("os_compute_api:os-flavor-extra-specs:delete", {})
        flavor_id, key = req.params["flavor_id"], req.params["key"]
        flavor = flavor_views.get_flavor(req, flavor_id)
        spec = next((s for s in flavor.extra_specs if s.key == key), None)
        if spec is None:
            raise _missing(flavor_id, key)
        flavor.extra_specs.remove(spec)
        req.db.flush()
        return Response(status_code=200)
