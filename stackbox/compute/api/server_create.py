"""POST /servers, the part before the cast: the request schema (by microversion; update,
metadata and tags reuse its parts), `validate` in Nova's wording

    Invalid input for field/attribute <field>. Value: <value>. <reason>

then the checks of what the body refers to (flavor, image, key pair, zone) and the
instance rows built from it. The handler (servers.py) commits and casts."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import secrets
import string
import uuid as uuid_mod
from dataclasses import dataclass
from typing import Any

import jsonschema
from sqlalchemy import select

from stackbox.api import errors, framework
from stackbox.api.framework import Req
from stackbox.compute import pci, quotas, requestspec, states, zones
from stackbox.compute.api import lookup, personality, server_groups
from stackbox.compute.api.microversion import Version, pick, version
from stackbox.compute.models import (
    Flavor,
    Instance,
    InstanceAction,
    InstanceMetadata,
    InstanceTag,
    KeyPair,
)
from stackbox.image.api import common as image_common
from stackbox.image.models import Image
from stackbox.virt import hardware, numa

NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    # printable, no leading or trailing whitespace (Nova's "name" format)
    "pattern": r"^(?!\s)[^\x00-\x1f\x7f]*(?<!\s)$",
}
DESCRIPTION = {"type": ["string", "null"], "maxLength": 255, "pattern": r"^[^\x00-\x1f\x7f]*$"}
METADATA = {
    "type": "object",
    "patternProperties": {r"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255}},
    "additionalProperties": False,
}
TAG = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": r"^[^,/]*$"}
TAGS = {"type": "array", "items": TAG, "maxItems": 50}
HOSTNAME = {
    "type": "string",
    "minLength": 2,
    "maxLength": 255,
    "pattern": r"^[a-zA-Z0-9]+[a-zA-Z0-9-._]*[a-zA-Z0-9]+$",
}
COUNT = {"type": ["integer", "string"], "pattern": r"^[0-9]*$", "minimum": 1, "minLength": 1}
IP4 = {"type": "string", "format": "ipv4"}
IP6 = {"type": "string", "format": "ipv6"}
BOOL = {"type": ["boolean", "string"], "enum": [True, False, "True", "False", "true", "false"]}

_NETWORK_LIST = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "fixed_ip": {"type": "string"},
            "port": {"type": ["string", "null"]},
            "uuid": {"type": "string"},
            "tag": {"type": "string"},
        },
        "additionalProperties": False,
    },
}
_BDM = {
    "type": "object",
    "properties": {
        "boot_index": {"type": ["integer", "string", "null"]},
        "uuid": {"type": "string"},
        "source_type": {"type": "string"},
        "destination_type": {"type": "string"},
        "delete_on_termination": BOOL,
        "volume_size": {"type": ["integer", "string", "null"]},
        "device_name": {"type": ["string", "null"]},
        "guest_format": {"type": ["string", "null"]},
        "device_type": {"type": ["string", "null"]},
        "disk_bus": {"type": ["string", "null"]},
        "tag": {"type": "string"},
        "volume_type": {"type": ["string", "null"]},
        "no_device": {},
    },
    "additionalProperties": False,
}


def build_create_schema(mv: Version) -> dict[str, Any]:
    """The create schema of microversion `mv`; called at import only (CREATE_SCHEMAS)."""
    props: dict[str, Any] = {
        "name": NAME,
        "imageRef": {"type": "string", "maxLength": 1024},
        "flavorRef": {"type": ["string", "integer"], "minLength": 1},
        "adminPass": {"type": "string"},
        "metadata": METADATA,
        "networks": _NETWORK_LIST,
        "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
        "accessIPv4": IP4,
        "accessIPv6": IP6,
        "availability_zone": {"type": "string", "minLength": 1, "maxLength": 255},
        "block_device_mapping_v2": {"type": "array", "items": _BDM},
        "config_drive": BOOL,
        "key_name": {"type": "string", "minLength": 1, "maxLength": 255},
        "min_count": COUNT,
        "max_count": COUNT,
        "return_reservation_id": BOOL,
        "security_groups": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "additionalProperties": False,
            },
        },
        "user_data": {"type": "string", "maxLength": 65535},
    }
    if mv < (2, 57):
        props["personality"] = personality.SCHEMA
    if mv >= (2, 19):
        props["description"] = DESCRIPTION
    if mv >= (2, 37):
        props["networks"] = {"oneOf": [_NETWORK_LIST, {"type": "string", "enum": ["none", "auto"]}]}
    if mv >= (2, 52):
        props["tags"] = TAGS
    if mv >= (2, 63):
        props["trusted_image_certificates"] = {"type": ["array", "null"], "maxItems": 0}
    if mv >= (2, 74):
        props["host"] = {"type": "string"}
        props["hypervisor_hostname"] = {"type": "string"}
    if mv >= (2, 90):
        props["hostname"] = HOSTNAME
    required = ["name", "flavorRef"] + (["networks"] if mv >= (2, 37) else [])
    hints = {"type": "object"}
    return {
        "type": "object",
        "properties": {
            "server": {
                "type": "object",
                "properties": props,
                "required": required,
                "additionalProperties": False,
            },
            "os:scheduler_hints": hints,
            "OS-SCH-HNT:scheduler_hints": hints,
        },
        "required": ["server"],
        "additionalProperties": False,
    }


# The microversions where the create schema changes (a test checks that every version
# gets what build_create_schema would build for it); one constant per range.
CREATE_SINCE: tuple[Version, ...] = (
    (2, 1), (2, 19), (2, 37), (2, 52), (2, 57), (2, 63), (2, 74), (2, 90),
)  # fmt: skip
CREATE_SCHEMAS = tuple((since, build_create_schema(since)) for since in CREATE_SINCE)


def create_schema(mv: Version) -> dict[str, Any]:
    return pick(CREATE_SCHEMAS, mv)


def normalized_ip(value: Any, family: int) -> Any:
    """accessIPv4/accessIPv6 as Nova stores and shows them: the address's canonical
    text (0000:0000:0000:0000:0000:babe:220.12.22.2 -> ::babe:dc0c:1602). Anything that
    is not an address of that family is returned as it is, for the schema to reject."""
    if not isinstance(value, str):
        return value
    cls = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
    try:
        return str(cls(value))
    except ValueError:
        return value


def normalize_access_ips(body: Any) -> None:
    """Normalize the accessIPv4/accessIPv6 of a create body in place (before `plan`,
    which stores them as given)."""
    fields = body.get("server") if isinstance(body, dict) else None
    if not isinstance(fields, dict):
        return
    for key, family in (("accessIPv4", 4), ("accessIPv6", 6)):
        if key in fields:
            fields[key] = normalized_ip(fields[key], family)


def validate(schema: dict[str, Any], body: Any) -> None:
    """400 in Nova's words unless `body` matches `schema`."""
    if body is None:
        raise errors.BadRequest("The request body is missing or empty.")
    v = framework.validator(schema)
    err = jsonschema.exceptions.best_match(v.iter_errors(body))
    if err is None:
        return
    path = list(err.absolute_path)
    if not path:
        raise errors.BadRequest(err.message)
    field = path[-1]
    raise errors.BadRequest(
        f"Invalid input for field/attribute {field}. Value: {err.instance}. {err.message}"
    )


# --- what the body refers to ------------------------------------------------
GiB = 1024**3
MAX_METADATA_ITEMS = 128
NAME_TEMPLATE = "%(name)s-%(count)d"  # Nova's multi_instance_display_name_template
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
_TRUE = (True, "True", "true")


def last_segment(ref: str) -> str:
    """An id, or the id at the end of a link (Nova accepts hrefs for image/flavor)."""
    return ref.rstrip("/").rsplit("/", 1)[-1] if "/" in ref else ref


def check_metadata_count(count: int, req: Req | None = None, project_id: str = "") -> None:
    """403 past the metadata_items quota of `project_id` (the fixed 128 without `req`)."""
    if req is not None:  # the project's quota
        quotas.check_metadata(req.db, project_id, count, req.state.cfg)
        return
    if count > MAX_METADATA_ITEMS:
        raise errors.Forbidden(f"Maximum number of metadata items exceeds {MAX_METADATA_ITEMS}")


def check_instance_quota(req: Req, flv: Flavor, min_count: int, max_count: int) -> int:
    """Lock the project's quota row and return how many servers to create (Nova:
    max_count if they fit, else as many as fit but at least min_count, else 403)."""
    ctx = req.context
    return quotas.instances_allowed(
        req.db,
        ctx.project_id or "",
        ctx.user_id,
        flv.vcpus,
        flv.memory_mb,
        min_count,
        max_count,
        req.state.cfg,
    )


def find_flavor(req: Req, ref: str | int) -> Flavor:
    """The flavor a create names: 400 'could not be found' when missing, disabled, or
    private without access, as Nova answers."""
    fid = last_segment(str(ref))
    flv = req.db.scalar(select(Flavor).where(Flavor.flavorid == fid))
    ctx = req.context
    if (
        flv is not None
        and not flv.is_public
        and not req.allowed("context_is_admin")
        and ctx.project_id not in {p.project_id for p in flv.projects}
    ):
        flv = None
    if flv is None or flv.disabled:  # Nova treats a disabled flavor as missing here
        raise errors.BadRequest(f"Flavor {fid} could not be found.")
    return flv


def find_image(req: Req, ref: str) -> Image:
    """An active image the caller may see, else 400 (Nova's wording)."""
    image_id = last_segment(ref)
    if not _UUID.match(image_id):
        raise errors.BadRequest("Invalid imageRef provided.")
    try:
        img = image_common.get_image(req, image_id)
    except errors.NotFound:
        raise errors.BadRequest("Can not find requested image") from None
    if img.status != "active":
        raise errors.BadRequest(f"Image {img.id} is not active.")
    return img


def check_hardware(vcpus: int, specs: Any, props: Any) -> None:
    """What the flavor's extra specs and the image's properties ask of the guest hardware
    (topology, cputune, iotune, watchdog, RNG, firmware...; virt/hardware.py): a bad value
    or combination is a 400 now, not an ERROR instance later."""
    try:
        hardware.validate(int(vcpus), specs or {}, props or {})
    except hardware.HardwareError as exc:
        raise errors.BadRequest(str(exc)) from None


def check_placement(req: Req, vcpus: int, memory_mb: int, specs: Any, props: Any) -> None:
    """NUMA cells, CPU pinning, page size (virt/numa.py) and PCI aliases ([pci] alias,
    compute/pci.py) the flavor and image ask for: a bad request is a 400 now."""
    try:
        numa.parse_request(int(vcpus), int(memory_mb), specs or {}, props or {})
        aliases = pci.parse_aliases(req.state.cfg.get("pci", "alias"))
        pci.parse_request((specs or {}).get("pci_passthrough:alias"), aliases)
    except (numa.InvalidNumaRequest, pci.InvalidPciRequest, pci.InvalidPciConfig) as exc:
        raise errors.BadRequest(str(exc)) from None


def check_image_fits(img: Image, flv: Flavor) -> None:
    """Nova's flavor-vs-image checks; a flavor with root_gb 0 takes any image size."""
    if (img.min_ram or 0) > flv.memory_mb:
        raise errors.BadRequest("Flavor's memory is too small for requested image.")
    if not flv.root_gb:
        return
    flavor_bytes = flv.root_gb * GiB
    for size in (img.size, img.virtual_size):
        if size is not None and size > flavor_bytes:
            raise errors.BadRequest(
                "Flavor's disk is too small for requested image. Flavor disk is "
                f"{flavor_bytes} bytes, image is {size} bytes."
            )
    if (img.min_disk or 0) > flv.root_gb:
        raise errors.BadRequest(
            "Flavor's disk is smaller than the minimum size specified in image metadata. "
            f"Flavor disk is {flavor_bytes} bytes, minimum size is {img.min_disk * GiB} bytes."
        )


def flavor_copy(flv: Flavor) -> dict[str, Any]:
    return {
        "flavorid": flv.flavorid,
        "name": flv.name,
        "memory_mb": flv.memory_mb,
        "vcpus": flv.vcpus,
        "root_gb": flv.root_gb,
        "ephemeral_gb": flv.ephemeral_gb,
        "swap": flv.swap,
        "rxtx_factor": flv.rxtx_factor,
        "extra_specs": flv.specs,
        "description": flv.description,
    }


def image_copy(img: Image) -> dict[str, Any]:
    return {
        "id": img.id,
        "name": img.name,
        "disk_format": img.disk_format,
        "container_format": img.container_format,
        "size": img.size,
        "virtual_size": img.virtual_size,
        "checksum": img.checksum,
        "os_hash_algo": img.os_hash_algo,
        "os_hash_value": img.os_hash_value,
        "min_disk": img.min_disk,
        "min_ram": img.min_ram,
        "properties": dict(img.extra),
    }


def sanitize_hostname(name: str, default: str) -> str:
    """Nova's sanitize_hostname: latin-1 only, [ _.] -> '-', other punctuation dropped,
    lower case, no leading/trailing '.'/'-', at most 63 characters."""
    host = name.encode("latin-1", "ignore").decode("latin-1")[:63]
    host = re.sub(r"[ _.]", "-", host)
    host = re.sub(r"[^\w.-]+", "", host, flags=re.ASCII)
    host = host.lower().strip(".-")[:63]
    return host or default[:63]


def generate_password(length: int = 12) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def reservation_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "r-" + "".join(secrets.choice(alphabet) for _ in range(8))


def parse_zone(req: Req, raw: str | None) -> tuple[str | None, str | None, str | None]:
    """'zone', 'zone:host', 'zone:host:node', 'zone::node' -> (zone, host, node); naming a
    host or node is for admins (403 otherwise); an unknown zone is 400."""
    if raw is None:
        return None, None, None
    parts = raw.split(":")
    if len(parts) > 3:
        raise errors.BadRequest(f"Invalid availability_zone: {raw}")
    zone = parts[0] or None
    host = (parts[1] if len(parts) > 1 else "") or None
    node = (parts[2] if len(parts) > 2 else "") or None
    if host or node:
        req.authorize("os_compute_api:servers:create:forced_host", {})
    if zone is not None:
        default = str(req.state.cfg.get("compute", "default_availability_zone"))
        if zone not in zones.known_zones(req.db, default):
            raise errors.BadRequest("The requested availability zone is not available")
    return zone, host, node


def check_networks(networks: Any) -> None:
    """'none'/'auto'/[] need no network service; a list of networks or ports does."""
    if isinstance(networks, list) and networks:
        raise errors.BadRequest(
            "Requesting networks or ports is not possible: networking is not available yet "
            "(request 'none' or 'auto')."
        )


def boot_image_from_bdms(bdms: list[dict[str, Any]] | None, image_ref: str) -> str:
    """Accept only the CLI's image->local boot_index 0 mapping (the same as imageRef)."""
    if not bdms:
        return image_ref
    if len(bdms) == 1:
        b = bdms[0]
        local_image = b.get("source_type") == "image" and b.get("destination_type") in (
            "local",
            None,
        )
        if local_image and str(b.get("boot_index")) == "0" and b.get("uuid"):
            if image_ref and last_segment(image_ref) != b["uuid"]:
                raise errors.BadRequest("Conflicting image and block_device_mapping_v2 image.")
            return str(b["uuid"])
    raise errors.BadRequest(
        "Block device mappings other than the image as local root disk are not possible: "
        "volumes are not available yet."
    )


def check_user_data(user_data: str | None) -> None:
    if user_data is None:
        return
    try:
        base64.b64decode(user_data, validate=True)
    except (binascii.Error, ValueError):
        raise errors.BadRequest("User data needs to be valid base 64.") from None


def counts(server: dict[str, Any]) -> tuple[int, int]:
    min_count = int(server.get("min_count", 1))
    max_count = int(server.get("max_count", min_count))
    if min_count > max_count:
        raise errors.BadRequest("min_count must be <= max_count")
    return min_count, max_count


def as_bool(value: Any) -> bool:
    return value in _TRUE


# --- the rows -----------------------------------------------------------------
@dataclass
class Plan:
    """What one POST /servers creates and casts."""

    instances: list[Instance]
    request_spec: dict[str, Any]
    admin_password: str
    reservation_id: str
    disk_config: str
    injected_files: list[dict[str, str]] | None = None


def plan(req: Req, body: dict[str, Any]) -> Plan:
    """Check the body against what exists and build (not yet commit) the rows."""
    mv = version(req)
    validate(create_schema(mv), body)
    server: dict[str, Any] = body["server"]
    ctx = req.context
    min_count, max_count = counts(server)
    if "networks" in server:
        check_networks(server["networks"])
    image_ref = boot_image_from_bdms(
        server.get("block_device_mapping_v2"), server.get("imageRef", "")
    )
    if not image_ref:
        raise errors.BadRequest("Missing imageRef attribute")
    flv = find_flavor(req, server["flavorRef"])
    img = find_image(req, image_ref)
    check_image_fits(img, flv)
    check_hardware(flv.vcpus, flv.specs, img.extra)
    check_placement(req, flv.vcpus, flv.memory_mb, flv.specs, img.extra)
    key_name, key_data = server.get("key_name"), None
    if key_name is not None:
        kp = req.db.scalar(
            select(KeyPair).where(KeyPair.user_id == ctx.user_id, KeyPair.name == key_name)
        )
        if kp is None:
            raise errors.BadRequest("Invalid key_name provided.")
        key_data = kp.public_key
    check_user_data(server.get("user_data"))
    files = personality.injected_files(req, server.get("personality"))
    metadata: dict[str, str] = server.get("metadata") or {}
    check_metadata_count(len(metadata), req, ctx.project_id or "")
    zone, force_host, force_node = parse_zone(req, server.get("availability_zone"))
    if server.get("host") or server.get("hypervisor_hostname"):  # 2.74
        req.authorize("os_compute_api:servers:create:forced_host", {})
        force_host = server.get("host") or force_host
        force_node = server.get("hypervisor_hostname") or force_node
    # the scheduler reads "host", "host:node" or ":node"
    forced = f"{force_host or ''}:{force_node}" if force_node else force_host
    hints = body.get("os:scheduler_hints") or body.get("OS-SCH-HNT:scheduler_hints") or {}
    group = server_groups.group_for_hint(req, hints)  # server group hint
    props = img.extra
    # Nova's rule: asked for, forced by config, or required by the image
    config_drive = (
        as_bool(server.get("config_drive"))
        or bool(req.state.cfg.get("compute", "force_config_drive"))
        or props.get("img_config_drive") == "mandatory"
    )
    admin_password = server.get("adminPass") or generate_password()
    disk_config = server.get("OS-DCF:diskConfig", "MANUAL")
    flavor = flavor_copy(flv)
    image_meta = image_copy(img)
    rid = reservation_id()
    request_id = lookup.request_id()
    name = server["name"]
    max_count = check_instance_quota(req, flv, min_count, max_count)  # quota
    instances = []
    for index in range(max_count):
        uuid = str(uuid_mod.uuid4())
        display = name if max_count == 1 else NAME_TEMPLATE % {"name": name, "count": index + 1}
        hostname = server.get("hostname")
        if hostname and max_count > 1:
            hostname = f"{hostname}-{index + 1}"
        inst = Instance(
            uuid=uuid,
            display_name=display,
            display_description=server.get("description"),
            hostname=hostname or sanitize_hostname(display, f"Server-{uuid}"),
            project_id=ctx.project_id,
            user_id=ctx.user_id,
            image_ref=img.id,
            kernel_id=props.get("kernel_id"),
            ramdisk_id=props.get("ramdisk_id"),
            flavor=flavor,
            image_meta=image_meta,
            key_name=key_name,
            key_data=key_data,
            user_data=server.get("user_data"),
            vm_state=states.BUILDING,
            task_state=states.SCHEDULING,
            power_state=states.NOSTATE,
            availability_zone=zone,
            config_drive="True" if config_drive else "",
            access_ip_v4=server.get("accessIPv4"),
            access_ip_v6=server.get("accessIPv6"),
            launch_index=index,
            reservation_id=rid,
            disk_config=disk_config,
            system_metadata={"scheduler_hints": hints, "pinned_availability_zone": zone},
            network_info=[],
            block_devices=[],
        )
        inst.metadata_items = [InstanceMetadata(key=k, value=v) for k, v in metadata.items()]
        inst.tags = [InstanceTag(tag=t) for t in dict.fromkeys(server.get("tags") or [])]
        req.db.add(inst)
        req.db.add(
            InstanceAction(
                action="create",
                instance_uuid=uuid,
                request_id=request_id,
                user_id=ctx.user_id,
                project_id=ctx.project_id,
            )
        )
        instances.append(inst)
    uuids = [i.uuid for i in instances]
    group_spec = None
    if group is not None:  # server group: members join; the scheduler gets the policy and hosts
        server_groups.join_group(req.db, group, uuids, ctx.project_id, ctx.user_id,
                                 req.state.cfg)  # fmt: skip
        group_spec = requestspec.group_info(req.db, group)
    spec = requestspec.build(flavor=flavor, image=image_meta, availability_zone=zone,
                             force_host=forced, project_id=ctx.project_id,
                             user_id=ctx.user_id, scheduler_hints=hints,
                             num_instances=max_count, group=group_spec)  # fmt: skip
    requestspec.create(req.db, uuids, spec)
    return Plan(instances, spec, admin_password, rid, disk_config, files)
