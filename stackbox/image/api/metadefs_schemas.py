"""JSON schemas of the metadata definitions API, as Glance publishes them at
/v2/schemas/metadefs/* (the CLI and Horizon read them) and validates request bodies
with: namespace, object, property, resource type association and tag, each with its
collection. Module constants, built once; the request bodies are checked against the
same dicts (`additionalProperties: false`, as Glance does)."""

from __future__ import annotations

from typing import Any

from stackbox.api import errors
from stackbox.api.framework import Req, Router

TYPES = ["array", "boolean", "integer", "number", "object", "string", None]
READ_ONLY_STRING = {"readOnly": True, "type": "string"}


def _timestamp(what: str) -> dict[str, Any]:
    return {"type": "string", "readOnly": True, "description": what, "format": "date-time"}


# One property definition: what a namespace, an object or the properties API holds.
PROPERTY_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "maxLength": 80},
    "title": {"type": "string"},
    "description": {"type": "string"},
    "operators": {"type": "array", "items": {"type": "string"}},
    "type": {"type": "string", "enum": TYPES},
    "required": {"$ref": "#/definitions/stringArray"},
    "minimum": {"type": "number"},
    "maximum": {"type": "number"},
    "maxLength": {"$ref": "#/definitions/positiveInteger"},
    "minLength": {"$ref": "#/definitions/positiveIntegerDefault0"},
    "pattern": {"type": "string", "format": "regex"},
    "enum": {"type": "array"},
    "readonly": {"type": "boolean"},
    "default": {},
    "items": {
        "type": "object",
        "properties": {"type": {"type": "string", "enum": TYPES}, "enum": {"type": "array"}},
    },
    "maxItems": {"$ref": "#/definitions/positiveInteger"},
    "minItems": {"$ref": "#/definitions/positiveIntegerDefault0"},
    "uniqueItems": {"type": "boolean", "default": False},
    "additionalItems": {"type": "boolean"},
}

DEFINITIONS: dict[str, Any] = {
    "positiveInteger": {"type": "integer", "minimum": 0},
    "positiveIntegerDefault0": {
        "allOf": [{"$ref": "#/definitions/positiveInteger"}, {"default": 0}]
    },
    "stringArray": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
    "property": {
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "required": ["title", "type"],
            "properties": PROPERTY_FIELDS,
        },
    },
}

NAMESPACE: dict[str, Any] = {
    "name": "namespace",
    "properties": {
        "namespace": {
            "type": "string",
            "description": "The unique namespace text.",
            "maxLength": 80,
        },
        "display_name": {
            "type": "string",
            "description": "The user friendly name for the namespace. Used by UI if available.",
            "maxLength": 80,
        },
        "description": {
            "type": "string",
            "description": "Provides a user friendly description of the namespace.",
            "maxLength": 500,
        },
        "visibility": {
            "type": "string",
            "description": "Scope of namespace accessibility.",
            "enum": ["public", "private"],
        },
        "protected": {
            "type": "boolean",
            "description": "If true, namespace will not be deletable.",
        },
        "owner": {"type": "string", "description": "Owner of the namespace.", "maxLength": 255},
        "created_at": _timestamp("Date and time of namespace creation"),
        "updated_at": _timestamp("Date and time of the last namespace modification"),
        "schema": READ_ONLY_STRING,
        "self": READ_ONLY_STRING,
        "resource_type_associations": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "prefix": {"type": "string"},
                    "properties_target": {"type": "string"},
                },
            },
        },
        "properties": {"$ref": "#/definitions/property"},
        "objects": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "required": {"$ref": "#/definitions/stringArray"},
                    "properties": {"$ref": "#/definitions/property"},
                },
            },
        },
        "tags": {
            "type": "array",
            "items": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
    },
    "additionalProperties": False,
    "definitions": DEFINITIONS,
    "required": ["namespace"],
}

OBJECT: dict[str, Any] = {
    "name": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 80},
        "description": {"type": "string"},
        "required": {"$ref": "#/definitions/stringArray"},
        "properties": {"$ref": "#/definitions/property"},
        "schema": READ_ONLY_STRING,
        "self": READ_ONLY_STRING,
        "created_at": _timestamp("Date and time of object creation"),
        "updated_at": _timestamp("Date and time of the last object modification"),
    },
    "additionalProperties": False,
    "definitions": DEFINITIONS,
    "required": ["name"],
}

PROPERTY: dict[str, Any] = {
    "name": "property",
    "properties": PROPERTY_FIELDS,
    "additionalProperties": False,
    "definitions": {
        "positiveInteger": DEFINITIONS["positiveInteger"],
        "positiveIntegerDefault0": DEFINITIONS["positiveIntegerDefault0"],
        "stringArray": {**DEFINITIONS["stringArray"], "minItems": 1},
    },
    "required": ["type", "title", "name"],
}

RESOURCE_TYPE: dict[str, Any] = {
    "name": "resource_type_association",
    "properties": {
        "name": {
            "type": "string",
            "description": "Resource type names should be aligned with Heat resource types "
            "whenever possible: "
            "https://docs.openstack.org/heat/latest/template_guide/openstack.html",
            "maxLength": 80,
        },
        "prefix": {
            "type": "string",
            "description": "Specifies the prefix to use for the given resource type. Any "
            "properties in the namespace should be prefixed with this prefix when being "
            "applied to the specified resource type. Must include prefix separator (e.g. a "
            "colon :).",
            "maxLength": 80,
        },
        "properties_target": {
            "type": "string",
            "description": "Some resource types allow more than one key / value pair per "
            "instance. For example, Cinder allows user and image metadata on volumes. Only "
            "the image properties metadata is evaluated by Nova (scheduling or drivers). "
            "This property allows a namespace target to remove the ambiguity.",
            "maxLength": 80,
        },
        "created_at": _timestamp("Date and time of resource type association"),
        "updated_at": _timestamp(
            "Date and time of the last resource type association modification"
        ),
    },
    "additionalProperties": False,
    "required": ["name"],
}

TAG: dict[str, Any] = {
    "name": "tag",
    "properties": {
        "name": {"type": "string", "maxLength": 80},
        "created_at": _timestamp("Date and time of tag creation"),
        "updated_at": _timestamp("Date and time of the last tag modification"),
    },
    "additionalProperties": False,
    "required": ["name"],
}

# The body of POST /v2/metadefs/namespaces/{ns}/tags (Glance's "tags" request schema).
TAGS_REQUEST: dict[str, Any] = {
    "name": "tags",
    "properties": {
        "tags": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string", "maxLength": 80}},
                "required": ["name"],
                "additionalProperties": False,
            },
        }
    },
    "additionalProperties": False,
}

_LINKS = [
    {"rel": "first", "href": "{first}"},
    {"rel": "next", "href": "{next}"},
    {"rel": "describedby", "href": "{schema}"},
]


def _collection(name: str, item: dict[str, Any], container: str = "array") -> dict[str, Any]:
    """Glance's collection schema: the item schema (its definitions moved up) in a list
    (or, for properties, a dict), with the paging links."""
    inner = {k: v for k, v in item.items() if k != "definitions"}
    if container == "object":
        inner["required"] = [r for r in inner["required"] if r != "name"]
        holder: dict[str, Any] = {"type": "object", "additionalProperties": inner}
    else:
        holder = {"type": "array", "items": inner}
    out: dict[str, Any] = {
        "name": name,
        "properties": {
            name: holder,
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": _LINKS,
    }
    if "definitions" in item:
        out["definitions"] = item["definitions"]
    return out


PUBLISHED: dict[str, dict[str, Any]] = {
    "namespace": NAMESPACE,
    "namespaces": _collection("namespaces", NAMESPACE),
    "object": OBJECT,
    "objects": _collection("objects", OBJECT),
    "property": PROPERTY,
    "properties": _collection("properties", PROPERTY, container="object"),
    "resource_type": RESOURCE_TYPE,
    "resource_types": _collection("resource_type_associations", RESOURCE_TYPE),
    "tag": TAG,
    "tags": _collection("tags", TAG),
}


def register(router: Router) -> None:
    @router.route("GET", "/v2/schemas/metadefs/{name}")
    def show_schema(req: Req) -> dict[str, Any]:
        schema = PUBLISHED.get(req.params["name"])
        if schema is None:
            raise errors.NotFound(f"No schema metadefs/{req.params['name']}.")
        return schema
