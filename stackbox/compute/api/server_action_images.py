"""Server actions that make images: createImage (a snapshot), createBackup (a snapshot
with `image_type=backup` whose oldest siblings the host rotates out) and shelve (a
snapshot the server is later rebuilt from), plus shelveOffload and unshelve.

The API asks the Image service's internal client (`stackbox.image.client.ImageClient`)
for the queued image, in the same transaction as the task_state change (private, owned
by the instance's project, with Nova's snapshot properties); the compute host snapshots
the root disk and uploads the data through the Image API (`snapshot_instance`,
`backup_instance`, `shelve_instance`)."""

from __future__ import annotations

import uuid
from typing import Any

from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.compute import quotas, requestspec, states, zones
from stackbox.compute.api import server_action_base as base
from stackbox.compute.api.microversion import version
from stackbox.compute.models import Instance
from stackbox.db.base import utcnow
from stackbox.image.client import ImageClient, ImageClientError, ImageInfo, ImageNotAuthorized

# Image properties a snapshot does not inherit from the image the server booted from.
NOT_INHERITED = frozenset(
    {
        "cache_in_nova",
        "bittorrent",
        "img_signature",
        "img_signature_hash_method",
        "img_signature_key_type",
        "img_signature_certificate_uuid",
        "cinder_encryption_key_id",
        "cinder_encryption_key_deletion_policy",
        "os_glance_importing_to_stores",
        "os_glance_failed_import",
        "image_type",
        "instance_uuid",
        "base_image_ref",
        "owner_project_name",
        "owner_user_name",
        "user_id",
    }
)


def snapshot_image(
    req: Req,
    inst: Instance,
    name: str,
    metadata: dict[str, str],
    image_id: str | None = None,
    image_type: str = "snapshot",
) -> ImageInfo:
    """Have the Image service add the queued image a snapshot of `inst` will be uploaded
    into (403/400 when it refuses a property)."""
    ctx = req.context
    meta = inst.image_meta or {}
    inherited = {
        k: str(v)
        for k, v in (meta.get("properties") or {}).items()
        if k not in NOT_INHERITED and not k.startswith("os_glance")
    }
    props: dict[str, str] = {
        **inherited,
        "image_type": image_type,
        "instance_uuid": inst.uuid,
        "base_image_ref": inst.image_ref or "",
        "user_id": ctx.user_id,
        "owner_user_name": ctx.user_name,
        "owner_project_name": ctx.project_name or "",
        **metadata,
    }
    root_gb = int((inst.flavor or {}).get("root_gb") or 0)
    attributes = {
        "id": image_id or str(uuid.uuid4()),
        "name": name,
        "disk_format": "qcow2",
        "container_format": "bare",
        "visibility": "private",
        "owner": inst.project_id,
        "min_disk": max(root_gb, int(meta.get("min_disk") or 0)),
        "min_ram": int(meta.get("min_ram") or 0),
    }
    try:
        return ImageClient(req).create(attributes, props)
    except ImageNotAuthorized as exc:
        raise errors.Forbidden(exc.message) from None
    except ImageClientError as exc:
        raise errors.BadRequest(exc.message) from None


def image_url(req: Req, image_id: str) -> str:
    return f"{req.state.cfg.public_url}/image/v2/images/{image_id}"


def create_image(req: Req, inst: Instance, value: dict) -> Any:
    base.authorize(req, "os_compute_api:servers:create_image", inst)
    base.check_locked(req, inst)
    base.check_host(inst)
    rid = base.begin(req, inst, "createImage", states.IMAGE_SNAPSHOT)
    img = snapshot_image(req, inst, value["name"], dict(value.get("metadata") or {}))
    comp = base.compute(req)
    base.send(req, comp.snapshot_instance, inst.host, base.instance_payload(inst), rid, img.id)
    if version(req) >= (2, 45):
        return {"image_id": img.id}, 202
    return None, 202, {"Location": image_url(req, img.id)}


def create_backup(req: Req, inst: Instance, value: dict) -> Any:
    """Nova's backup: a snapshot with `image_type=backup` and `backup_type`; after the
    upload the host deletes the oldest backups of this server and type beyond
    `rotation` (0: all of them, the new one included). No lock check, as in Nova."""
    base.authorize(req, "os_compute_api:os-create-backup", inst)
    metadata = dict(value.get("metadata") or {})
    if version(req) < (2, 39):  # quota on image metadata, gone from 2.39 as in Nova
        quotas.check_metadata(req.db, inst.project_id, len(metadata), req.state.cfg)
    base.check_host(inst)
    backup_type, rotation = value["backup_type"], int(value["rotation"])
    rid = base.begin(req, inst, "createBackup", states.IMAGE_BACKUP)
    metadata["backup_type"] = backup_type
    img = snapshot_image(req, inst, value["name"], metadata, image_type="backup")
    comp = base.compute(req)
    payload = base.instance_payload(inst)
    base.send(req, comp.backup_instance, inst.host, payload, rid, img.id, backup_type, rotation)
    if version(req) >= (2, 45):
        return {"image_id": img.id}, 202
    if rotation == 0:  # the backup will be rotated out at once: nothing to point at
        return None, 202
    return None, 202, {"Location": f"{req.state.cfg.public_url}/compute/v2.1/images/{img.id}"}


def shelve(req: Req, inst: Instance, _value: Any) -> None:
    base.authorize(req, "os_compute_api:os-shelve:shelve", inst)
    base.check_locked(req, inst)
    base.check_host(inst)
    image_id = str(uuid.uuid4())
    sysmeta = dict(inst.system_metadata or {})
    sysmeta.update(
        shelved_image_id=image_id,
        shelved_at=utcnow().isoformat(),
        shelved_host=inst.host,
    )
    rid = base.begin(req, inst, "shelve", states.SHELVING, values={"system_metadata": sysmeta})
    snapshot_image(req, inst, f"{inst.display_name}-shelved", {}, image_id)
    offload = int(req.state.cfg.get("compute", "shelved_offload_time")) == 0
    comp = base.compute(req)
    payload = base.instance_payload(inst)
    base.send(req, comp.shelve_instance, inst.host, payload, rid, image_id, offload)


def shelve_offload(req: Req, inst: Instance, _value: Any) -> None:
    base.cast_simple(
        req,
        inst,
        "os_compute_api:os-shelve:shelve_offload",
        "shelveOffload",
        states.SHELVING_OFFLOADING,
        "shelve_offload_instance",
    )


def unshelve(req: Req, inst: Instance, value: Any) -> None:
    base.authorize(req, "os_compute_api:os-shelve:unshelve", inst)
    base.check_locked(req, inst)
    base.check_state("unshelve", inst)
    values: dict[str, Any] = {}
    # Before 2.77 the value means nothing (Nova ignores whatever it is).
    given = value if isinstance(value, dict) and version(req) >= (2, 77) else {}
    if given.get("host") is not None:
        raise errors.BadRequest("Unshelving to a named host is not supported.")
    if "availability_zone" in given:
        if inst.vm_state != states.SHELVED_OFFLOADED:
            raise errors.Conflict(
                "Specifying an availability zone when unshelving server "
                f'{inst.uuid} with status "{inst.vm_state}" is not supported. '
                "The server status must be SHELVED_OFFLOADED."
            )
        zone = given["availability_zone"]
        if zone is not None and zone not in zones.known_zones(
            req.db, str(req.state.cfg.get("compute", "default_availability_zone"))
        ):
            raise errors.BadRequest("The requested availability zone is not available")
        values["availability_zone"] = zone
    rid = base.begin(req, inst, "unshelve", states.UNSHELVING, values=values)
    if "availability_zone" in values:  # where it may go from now on, as Nova's spec
        requestspec.update(req.db, inst, availability_zone=values["availability_zone"])
    cond = base.conductor(req)
    base.send(req, cond.unshelve_instance, inst.uuid, rid)


_METADATA = {
    "type": "object",
    "patternProperties": {"^.{1,255}$": {"type": "string", "maxLength": 255}},
    "additionalProperties": False,
}
_CREATE_IMAGE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^\S(.*\S)?$"},
        "metadata": _METADATA,
    },
    "required": ["name"],
    "additionalProperties": False,
}
_CREATE_BACKUP = {
    "type": "object",
    "properties": {
        "name": _CREATE_IMAGE["properties"]["name"],
        "backup_type": {"type": "string"},
        # Nova's non-negative integer: a number or a string of digits
        "rotation": {
            "type": ["integer", "string"],
            "pattern": "^[0-9]*$",
            "minimum": 0,
            "minLength": 1,
        },
        "metadata": _METADATA,
    },
    "required": ["name", "backup_type", "rotation"],
    "additionalProperties": False,
}
_UNSHELVE_277 = {
    "oneOf": [
        {"type": "null"},
        {
            "type": "object",
            "properties": {"availability_zone": {"type": "string", "minLength": 1}},
            "required": ["availability_zone"],
            "additionalProperties": False,
        },
    ]
}
_UNSHELVE_291 = {
    "oneOf": [
        {"type": "null"},
        {
            "type": "object",
            "properties": {
                "availability_zone": {"type": ["string", "null"], "minLength": 1},
                "host": {"type": "string", "minLength": 1, "maxLength": 255},
            },
            "additionalProperties": False,
        },
    ]
}

ACTIONS: dict[str, base.ActionSpec] = {
    "createImage": base.ActionSpec(create_image, [((2, 1), _CREATE_IMAGE)]),
    "createBackup": base.ActionSpec(create_backup, [((2, 1), _CREATE_BACKUP)]),
    "shelve": base.ActionSpec(shelve, base.NO_PARAMETERS),
    "shelveOffload": base.ActionSpec(shelve_offload, base.NO_PARAMETERS),
    "unshelve": base.ActionSpec(
        unshelve,
        [((2, 1), base.ANY_VALUE), ((2, 77), _UNSHELVE_277), ((2, 91), _UNSHELVE_291)],
    ),
}
