"""JSON schemas Glance publishes at /v2/schemas/* (the CLI reads them): the image
schema as Glance 33 serves it, with this cloud's disk and container formats."""

from __future__ import annotations

from typing import Any

from stackbox.api.framework import Req, Router
from stackbox.image.api.common import STATUSES

UUID_PATTERN = (
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
)


def image_schema(disk_formats: list[str], container_formats: list[str]) -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": {
            "type": "string",
            "description": "An identifier for the image",
            "pattern": UUID_PATTERN,
        },
        "name": {
            "type": ["null", "string"],
            "description": "Descriptive name for the image",
            "maxLength": 255,
        },
        "status": {
            "type": "string",
            "readOnly": True,
            "description": "Status of the image",
            "enum": list(STATUSES),
        },
        "visibility": {
            "type": "string",
            "description": "Scope of image accessibility",
            "enum": ["community", "public", "private", "shared"],
        },
        "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
        "os_hidden": {
            "type": "boolean",
            "description": "If true, image will not appear in default image list response.",
        },
        "checksum": {
            "type": ["null", "string"],
            "readOnly": True,
            "description": "md5 hash of image contents.",
            "maxLength": 32,
        },
        "os_hash_algo": {
            "type": ["null", "string"],
            "readOnly": True,
            "description": "Algorithm to calculate the os_hash_value",
            "maxLength": 64,
        },
        "os_hash_value": {
            "type": ["null", "string"],
            "readOnly": True,
            "description": (
                "Hexdigest of the image contents using the algorithm specified by the os_hash_algo"
            ),
            "maxLength": 128,
        },
        "owner": {
            "type": ["null", "string"],
            "description": "Owner of the image",
            "maxLength": 255,
        },
        "size": {
            "type": ["null", "integer"],
            "readOnly": True,
            "description": "Size of image file in bytes",
        },
        "virtual_size": {
            "type": ["null", "integer"],
            "readOnly": True,
            "description": "Virtual size of image in bytes",
        },
        "container_format": {
            "type": ["null", "string"],
            "description": "Format of the container",
            "enum": [None, *container_formats],
        },
        "disk_format": {
            "type": ["null", "string"],
            "description": "Format of the disk",
            "enum": [None, *disk_formats],
        },
        "created_at": {
            "type": "string",
            "readOnly": True,
            "description": "Date and time of image registration",
        },
        "updated_at": {
            "type": "string",
            "readOnly": True,
            "description": "Date and time of the last image modification",
        },
        "tags": {
            "type": "array",
            "description": "List of strings related to the image",
            "items": {"type": "string", "maxLength": 255},
        },
        "direct_url": {
            "type": "string",
            "readOnly": True,
            "description": "URL to access the image file kept in external store",
        },
        "min_ram": {
            "type": "integer",
            "description": "Amount of ram (in MB) required to boot image.",
        },
        "min_disk": {
            "type": "integer",
            "description": "Amount of disk space (in GB) required to boot image.",
        },
        "self": {"type": "string", "readOnly": True, "description": "An image self url"},
        "file": {"type": "string", "readOnly": True, "description": "An image file url"},
        "stores": {
            "type": "string",
            "readOnly": True,
            "description": (
                "Store in which image data resides.  Only present when the operator has"
                " enabled multiple stores.  May be a comma-separated list of store "
                "identifiers."
            ),
        },
        "schema": {"type": "string", "readOnly": True, "description": "An image schema url"},
        "locations": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "url": {"type": "string", "maxLength": 255},
                    "metadata": {"type": "object"},
                    "validation_data": {
                        "description": (
                            "Values to be used to populate the corresponding image properties. If "
                            "the image status is not 'queued', values must exactly match those "
                            "already contained in the image properties."
                        ),
                        "type": "object",
                        "writeOnly": True,
                        "additionalProperties": False,
                        "properties": {
                            "checksum": {"type": "string", "minLength": 32, "maxLength": 32},
                            "os_hash_algo": {"type": "string", "maxLength": 64},
                            "os_hash_value": {"type": "string", "maxLength": 128},
                        },
                        "required": ["os_hash_algo", "os_hash_value"],
                    },
                },
                "required": ["url", "metadata"],
            },
            "description": "A set of URLs to access the image file kept in external store",
        },
    }
    return {
        "name": "image",
        "properties": props,
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def images_schema(disk_formats: list[str], container_formats: list[str]) -> dict[str, Any]:
    return {
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image_schema(disk_formats, container_formats)},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


MEMBER: dict[str, Any] = {
    "name": "member",
    "properties": {
        "member_id": {
            "type": "string",
            "description": "An identifier for the image member (tenantId)",
        },
        "image_id": {
            "type": "string",
            "description": "An identifier for the image",
            "pattern": UUID_PATTERN,
        },
        "created_at": {"type": "string", "description": "Date and time of image member creation"},
        "updated_at": {
            "type": "string",
            "description": "Date and time of last modification of image member",
        },
        "status": {
            "type": "string",
            "description": "The status of this image member",
            "enum": ["pending", "accepted", "rejected"],
        },
        "schema": {"readOnly": True, "type": "string"},
    },
}

MEMBERS: dict[str, Any] = {
    "name": "members",
    "properties": {
        "members": {"type": "array", "items": MEMBER},
        "schema": {"type": "string"},
    },
    "links": [{"rel": "describedby", "href": "{schema}"}],
}


def _formats(req: Req) -> tuple[list[str], list[str]]:
    cfg = req.state.cfg
    return cfg.get("image", "disk_formats"), cfg.get("image", "container_formats")


def register(router: Router) -> None:
    @router.route("GET", "/v2/schemas/image")
    async def get_image_schema(req: Req) -> dict:
        return image_schema(*_formats(req))

    @router.route("GET", "/v2/schemas/images")
    async def get_images_schema(req: Req) -> dict:
        return images_schema(*_formats(req))

    @router.route("GET", "/v2/schemas/member")
    async def get_member_schema(req: Req) -> dict:
        return MEMBER

    @router.route("GET", "/v2/schemas/members")
    async def get_members_schema(req: Req) -> dict:
        return MEMBERS
