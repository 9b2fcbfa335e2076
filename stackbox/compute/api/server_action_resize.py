"""Server actions that change what a server is made of: resize (+ confirmResize,
revertResize) and rebuild.

- resize: checks the new flavor (exists, visible, different, root disk not shrinking),
  keeps both flavors on the row (`old_flavor`/`new_flavor`), task resize_prep, creates
  the `pre-migrating` migration record, then the conductor claims the new flavor on
  the host and casts to compute.
- confirmResize: task_state stays None, as in Nova (the state check and the UPDATE
  still run atomically against a concurrent revert, which does take a task state);
  revertResize: task resize_reverting. Their migration becomes confirming/reverting.
  Both cast to the instance's host.
- rebuild: checks the image as a create does, writes the new image and the other
  given fields, task rebuilding, casts compute rebuild_instance; 202 with the server.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy import select

from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.compute import migrations, quotas, requestspec, states
from stackbox.compute.api import personality, server_create, server_views
from stackbox.compute.api import server_action_base as base
from stackbox.compute.api.microversion import version
from stackbox.compute.models import Flavor, Instance, InstanceMetadata, KeyPair
from stackbox.image.api import common as image_common
from stackbox.image.models import Image

GIB = 1024**3


# --- resize -------------------------------------------------------------------
def _flavor(req: Req, ref: str) -> Flavor:
    """The resize target (Nova words a missing one differently from create)."""
    try:
        return server_create.find_flavor(req, ref)
    except errors.BadRequest:
        raise errors.BadRequest("Unable to locate requested flavor.") from None


def resize(req: Req, inst: Instance, value: dict) -> None:
    base.authorize(req, "os_compute_api:servers:resize", inst)
    base.check_locked(req, inst)
    base.check_host(inst)
    base.check_state("resize", inst)
    flv = _flavor(req, value["flavorRef"])
    current = inst.flavor or {}
    if str(current.get("flavorid")) == flv.flavorid:
        raise errors.BadRequest("When resizing, instances must change flavor!")
    old_root = int(current.get("root_gb") or 0)
    if flv.root_gb == 0 and old_root != 0:
        raise errors.BadRequest(
            "Server disk was unable to be resized because: "
            "Resize to zero disk flavor is not allowed."
        )
    if 0 < flv.root_gb < old_root:
        raise errors.BadRequest("Resize error: Unable to resize disk down.")
    image_props = (inst.image_meta or {}).get("properties")
    server_create.check_hardware(flv.vcpus, flv.specs, image_props)  # 400 before the move
    server_create.check_placement(req, flv.vcpus, flv.memory_mb, flv.specs, image_props)
    new = server_create.flavor_copy(flv)
    values: dict[str, Any] = {"old_flavor": dict(current), "new_flavor": new}
    if "OS-DCF:diskConfig" in value:
        values["disk_config"] = value["OS-DCF:diskConfig"]
    check_resize_quota(req, inst, current, flv)  # upsize quota
    rid = base.begin(req, inst, "resize", states.RESIZE_PREP, values=values)
    migrations.create_resize(req.db, inst, dict(current), new)
    cond = base.conductor(req)
    base.send(req, cond.resize_instance, inst.uuid, new, rid)


def check_resize_quota(req: Req, inst: Instance, current: dict, flv: Flavor) -> None:
    """An upsize needs quota for the extra cores and RAM (Nova: 403 otherwise)."""
    deltas = {
        "cores": flv.vcpus - int(current.get("vcpus") or 0),
        "ram": flv.memory_mb - int(current.get("memory_mb") or 0),
    }
    deltas = {k: v for k, v in deltas.items() if v > 0}
    if deltas:
        quotas.check(req.db, inst.project_id, inst.user_id, deltas, cfg=req.state.cfg)


def confirm_resize(req: Req, inst: Instance, _value: Any) -> tuple[None, int]:
    """204, as Nova answers this one action (every other one here is 202)."""
    base.authorize(req, "os_compute_api:servers:confirm_resize", inst)
    base.check_locked(req, inst)
    base.check_host(inst)
    rid = base.begin(req, inst, "confirmResize", None)
    migrations.advance(req.db, inst.uuid, "confirming")
    comp = base.compute(req)
    payload = base.instance_payload(inst)
    base.send(req, comp.simple_action, inst.host, "confirm_resize", payload, rid)
    return None, 204


def revert_resize(req: Req, inst: Instance, _value: Any) -> None:
    base.authorize(req, "os_compute_api:servers:revert_resize", inst)
    base.check_locked(req, inst)
    base.check_host(inst)
    rid = base.begin(req, inst, "revertResize", states.RESIZE_REVERTING)
    migrations.advance(req.db, inst.uuid, "reverting")
    comp = base.compute(req)
    payload = base.instance_payload(inst)
    base.send(req, comp.simple_action, inst.host, "revert_resize", payload, rid)


# --- rebuild ------------------------------------------------------------------
def check_image(req: Req, ref: str, flavor: dict) -> Image:
    """An active image the caller may see, that fits `flavor` (400s as in Nova)."""
    image_id = str(ref).rstrip("/").rsplit("/", 1)[-1]
    try:
        img = image_common.get_image(req, image_id)
    except errors.NotFound:
        raise errors.BadRequest("Can not find requested image") from None
    if img.status != "active":
        raise errors.BadRequest(f"Image {img.id} is not active.")
    if int(flavor.get("memory_mb") or 0) < (img.min_ram or 0):
        raise errors.BadRequest("Flavor's memory is too small for requested image.")
    root_gb = int(flavor.get("root_gb") or 0)
    if root_gb:
        size = img.virtual_size or img.size or 0
        if size > root_gb * GIB:
            raise errors.BadRequest(
                "Flavor's disk is too small for requested image. Flavor disk is "
                f"{root_gb * GIB} bytes, image is {size} bytes."
            )
        if (img.min_disk or 0) > root_gb:
            raise errors.BadRequest(
                "Flavor's disk is too small for requested image. Flavor disk is "
                f"{root_gb * GIB} bytes, minimum required by the image is "
                f"{img.min_disk * GIB} bytes."
            )
    return img


def rebuild(req: Req, inst: Instance, value: dict) -> tuple[dict, int]:
    base.authorize(req, "os_compute_api:servers:rebuild", inst)
    base.check_locked(req, inst)
    base.check_host(inst)
    base.check_state("rebuild", inst)
    img = check_image(req, value["imageRef"], inst.flavor or {})
    meta = server_create.image_copy(img)
    flavor = inst.flavor or {}
    server_create.check_hardware(
        int(flavor.get("vcpus") or 1), flavor.get("extra_specs"), meta["properties"]
    )
    server_create.check_placement(
        req,
        int(flavor.get("vcpus") or 1),
        int(flavor.get("memory_mb") or 0),
        flavor.get("extra_specs"),
        meta["properties"],
    )
    values: dict[str, Any] = {
        "image_ref": img.id,
        "image_meta": meta,
        "kernel_id": meta["properties"].get("kernel_id"),
        "ramdisk_id": meta["properties"].get("ramdisk_id"),
    }
    if "name" in value:
        values["display_name"] = value["name"]
    if "description" in value:
        values["display_description"] = value["description"]
    if "accessIPv4" in value:
        values["access_ip_v4"] = server_create.normalized_ip(value["accessIPv4"], 4)
    if "accessIPv6" in value:
        values["access_ip_v6"] = server_create.normalized_ip(value["accessIPv6"], 6)
    if "OS-DCF:diskConfig" in value:
        values["disk_config"] = value["OS-DCF:diskConfig"]
    if "key_name" in value:
        values.update(_key(req, inst, value["key_name"]))
    if "user_data" in value:
        values["user_data"] = _user_data(value["user_data"])
    files = personality.injected_files(req, value.get("personality"))
    rid = base.begin(req, inst, "rebuild", states.REBUILDING, values=values)
    requestspec.update(req.db, inst, image=meta)  # later schedulings judge the new image
    if "metadata" in value:
        inst.metadata_items = [
            InstanceMetadata(key=k, value=v) for k, v in sorted(value["metadata"].items())
        ]
        req.db.flush()
    password = value.get("adminPass") or server_create.generate_password()
    comp = base.compute(req)
    payload = base.instance_payload(inst)
    base.send(req, comp.rebuild_instance, inst.host, payload, rid, password, files)
    view = rebuild_view(req, inst)
    view["adminPass"] = password
    return {"server": view}, 202


# Before 2.75 Nova answers a rebuild with the server minus its extension attributes.
def rebuild_view(req: Req, inst: Instance) -> dict[str, Any]:
    """The server of a rebuild's response: PUT's view (the show view from 2.75, without
    the extension attributes before), with `user_data` at the top from 2.57 (never as
    OS-EXT-SRV-ATTR:user_data), and before 2.75 without security groups but with
    `key_name` from 2.54 and `server_groups` from 2.71 (Nova's show_* flags)."""
    full = server_views.show_view(req, inst)
    view = server_views.update_view(req, inst)
    view.pop("OS-EXT-SRV-ATTR:user_data", None)
    v = version(req)
    if v < (2, 75):
        view.pop("security_groups", None)
        for key, since in (("key_name", (2, 54)), ("server_groups", (2, 71))):
            if v >= since and key in full:
                view[key] = full[key]
    if v >= (2, 57):
        view["user_data"] = inst.user_data
    return view


def _user_data(data: str | None) -> str | None:
    if data is None:
        return None
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise errors.BadRequest("User data needs to be valid base 64.") from None
    return data


def _key(req: Req, inst: Instance, name: str | None) -> dict[str, Any]:
    if name is None:
        return {"key_name": None, "key_data": None}
    kp = req.db.scalar(select(KeyPair).where(KeyPair.user_id == inst.user_id, KeyPair.name == name))
    if kp is None:
        raise errors.BadRequest("Invalid key_name provided.")
    return {"key_name": kp.name, "key_data": kp.public_key}


_FLAVOR_REF = {"type": ["string", "integer"], "minLength": 1}
_DISK_CONFIG = {"enum": ["AUTO", "MANUAL"]}
_RESIZE = {
    "type": "object",
    "properties": {"flavorRef": _FLAVOR_REF, "OS-DCF:diskConfig": _DISK_CONFIG},
    "required": ["flavorRef"],
    "additionalProperties": False,
}
_NAME = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^\S(.*\S)?$"}
_META = {
    "type": "object",
    "patternProperties": {"^.{1,255}$": {"type": "string", "maxLength": 255}},
    "additionalProperties": False,
    "maxProperties": 128,
}
_REBUILD_PROPS: dict[str, Any] = {
    "imageRef": {"type": "string", "minLength": 1},
    "name": _NAME,
    "adminPass": {"type": "string"},
    "metadata": _META,
    "accessIPv4": server_create.IP4,
    "accessIPv6": server_create.IP6,
    "OS-DCF:diskConfig": _DISK_CONFIG,
    "preserve_ephemeral": {"type": "boolean"},
    "personality": personality.SCHEMA,
}


def _rebuild_schema(**extra: Any) -> dict:
    props = {**_REBUILD_PROPS, **extra}
    if "user_data" in extra:  # 2.57 drops personality files
        props.pop("personality")
    return {
        "type": "object",
        "properties": props,
        "required": ["imageRef"],
        "additionalProperties": False,
    }


_DESCRIPTION = {"type": ["string", "null"], "maxLength": 255}
_KEY_NAME = {"type": ["string", "null"], "minLength": 1, "maxLength": 255}
_USER_DATA = {"type": ["string", "null"], "maxLength": 65535}

ACTIONS: dict[str, base.ActionSpec] = {
    "resize": base.ActionSpec(resize, [((2, 1), _RESIZE)]),
    "confirmResize": base.ActionSpec(confirm_resize, base.NO_PARAMETERS),
    "revertResize": base.ActionSpec(revert_resize, base.NO_PARAMETERS),
    "rebuild": base.ActionSpec(
        rebuild,
        [
            ((2, 1), _rebuild_schema()),
            ((2, 19), _rebuild_schema(description=_DESCRIPTION)),
            ((2, 54), _rebuild_schema(description=_DESCRIPTION, key_name=_KEY_NAME)),
            (
                (2, 57),
                _rebuild_schema(description=_DESCRIPTION, key_name=_KEY_NAME, user_data=_USER_DATA),
            ),
        ],
    ),
}
