"""Server actions rescue and unrescue (Nova's os-rescue), dispatched by
server_actions.py like every other action.

- rescue: `{"rescue": null | {"adminPass"?, "rescue_image_ref"?}}` in ACTIVE, SHUTOFF
  or ERROR; the image must exist (400), a volume-backed server cannot be rescued (400;
  from 2.87 Nova could with a stable-rescue image on a capable host: this host type
  cannot, also 400). task rescuing, cast compute rescue_instance with the password and
  the rescue image's copy. Nova answers 200 `{"adminPass": ...}` (`{}` when
  [api] enable_instance_password is off).
- unrescue: only RESCUED; task unrescuing, cast compute unrescue_instance; 202.
"""

from __future__ import annotations

from typing import Any

from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.compute import states
from stackbox.compute.api import server_action_base as base
from stackbox.compute.api import server_create
from stackbox.compute.api.microversion import version
from stackbox.compute.models import Instance
from stackbox.image.api import common as image_common

# The image properties that ask for a stable device rescue (2.87).
STABLE_RESCUE_PROPS = ("hw_rescue_bus", "hw_rescue_device")


def _image(req: Req, ref: str) -> dict[str, Any]:
    """The copy of the rescue image a compute host needs (400 if there is none)."""
    try:
        img = image_common.get_image(req, ref)
    except errors.NotFound:
        raise errors.BadRequest(f"Requested rescue image '{ref}' is not supported") from None
    return server_create.image_copy(img)


def _check_not_volume_backed(req: Req, inst: Instance, image: dict[str, Any]) -> None:
    if inst.image_ref:
        return
    props = image.get("properties") or {}
    stable = version(req) >= (2, 87) and all(p in props for p in STABLE_RESCUE_PROPS)
    reason = (
        "Host unable to rescue a volume-backed instance"
        if stable
        else "Cannot rescue a volume-backed instance"
    )
    raise errors.BadRequest(f"Instance {inst.uuid} cannot be rescued: {reason}")


def rescue(req: Req, inst: Instance, value: dict | None) -> tuple[dict, int]:
    value = value or {}
    password = value.get("adminPass") or server_create.generate_password()
    base.authorize(req, "os_compute_api:os-rescue", inst)
    base.check_locked(req, inst)
    base.check_host(inst)
    base.check_state("rescue", inst)
    ref = value.get("rescue_image_ref")
    given = _image(req, ref) if ref else None
    _check_not_volume_backed(req, inst, given or inst.image_meta or {})
    rid = base.begin(req, inst, "rescue", states.RESCUING)
    comp = base.compute(req)
    base.send(
        req, comp.rescue_instance, inst.host, base.instance_payload(inst), rid, password, given
    )
    if not req.state.cfg.get("api", "enable_instance_password"):
        return {}, 200
    return {"adminPass": password}, 200


def unrescue(req: Req, inst: Instance, _value: Any) -> None:
    base.cast_simple(
        req, inst, "os_compute_api:os-unrescue", "unrescue", states.UNRESCUING, "unrescue_instance"
    )


_RESCUE = {
    "type": ["object", "null"],
    "properties": {
        "adminPass": {"type": "string"},
        "rescue_image_ref": {"type": "string", "format": "uuid"},
    },
    "additionalProperties": False,
}

ACTIONS: dict[str, base.ActionSpec] = {
    "rescue": base.ActionSpec(rescue, [((2, 1), _RESCUE)]),
    "unrescue": base.ActionSpec(unrescue, base.NO_PARAMETERS),
}
