"""Writing metadata definitions: a namespace with its contents (resource type
associations, objects, properties, tags), each piece on its own. Used by the metadefs
API (after validation and policy) and by the loader of the standard namespaces, so both
store the same rows. The caller's session commits; a name already taken is a 409.

What does not belong here: visibility and policy (`api/metadefs_common.py`) and the
JSON views."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stackbox.api import errors
from stackbox.image.metadef_models import (
    MetadefAssociation,
    MetadefNamespace,
    MetadefObject,
    MetadefProperty,
    MetadefResourceType,
    MetadefTag,
)

# The fields a property definition keeps (Glance's PropertyType); others are dropped.
PROPERTY_KEYS = (
    "title",
    "description",
    "operators",
    "type",
    "required",
    "minimum",
    "maximum",
    "maxLength",
    "minLength",
    "pattern",
    "enum",
    "readonly",
    "default",
    "items",
    "maxItems",
    "minItems",
    "uniqueItems",
    "additionalItems",
)


def flush_or_conflict(s: Session, message: str) -> None:
    """Flush; a unique name taken (here or by a concurrent writer) becomes a 409."""
    try:
        s.flush()
    except IntegrityError:
        raise errors.Conflict(message) from None


def property_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A property definition as stored: the known fields, without its name."""
    return {k: schema[k] for k in PROPERTY_KEYS if k in schema}


def property_schemas(props: dict[str, Any] | None) -> dict[str, Any]:
    return {name: property_schema(value) for name, value in (props or {}).items()}


def resource_type(s: Session, name: str, *, protected: bool = False) -> MetadefResourceType:
    """The resource type named `name`, created when new (as Glance does on association)."""
    rt = s.scalars(select(MetadefResourceType).where(MetadefResourceType.name == name)).first()
    if rt is None:
        rt = MetadefResourceType(name=name, protected=protected)
        s.add(rt)
        flush_or_conflict(s, f"A metadata definition resource-type with name={name} exists.")
    return rt


def add_association(
    s: Session, ns: MetadefNamespace, item: dict[str, Any]
) -> tuple[MetadefAssociation, str]:
    rt = resource_type(s, item["name"])
    assoc = MetadefAssociation(
        namespace_id=ns.id,
        resource_type_id=rt.id,
        prefix=item.get("prefix"),
        properties_target=item.get("properties_target"),
    )
    if s.get(MetadefAssociation, (ns.id, rt.id)) is not None:
        raise _duplicate_association(rt.name, ns.namespace)
    s.add(assoc)
    flush_or_conflict(s, str(_duplicate_association(rt.name, ns.namespace)))
    return assoc, rt.name


def _duplicate_association(rt: str, ns: str) -> errors.Conflict:
    return errors.Conflict(
        f"The metadata definition resource-type association of resource-type={rt} to "
        f"namespace={ns} already exists."
    )


def add_object(s: Session, ns: MetadefNamespace, body: dict[str, Any]) -> MetadefObject:
    obj = MetadefObject(
        namespace_id=ns.id,
        name=body["name"],
        description=body.get("description"),
        required=list(body.get("required") or []) or None,
        properties=property_schemas(body.get("properties")),
    )
    s.add(obj)
    flush_or_conflict(
        s,
        f"A metadata definition object with name={obj.name} already exists in "
        f"namespace={ns.namespace}.",
    )
    return obj


def add_property(
    s: Session, ns: MetadefNamespace, name: str, schema: dict[str, Any]
) -> MetadefProperty:
    prop = MetadefProperty(namespace_id=ns.id, name=name, json_schema=property_schema(schema))
    s.add(prop)
    flush_or_conflict(
        s,
        f"A metadata definition property with name={name} already exists in "
        f"namespace={ns.namespace}.",
    )
    return prop


def add_tag(s: Session, ns: MetadefNamespace, name: str) -> MetadefTag:
    tag = MetadefTag(namespace_id=ns.id, name=name)
    s.add(tag)
    flush_or_conflict(s, duplicate_tag(name, ns.namespace))
    return tag


def duplicate_tag(name: str, ns: str) -> str:
    return f"A metadata tag with name={name} already exists in namespace={ns}."


def create_namespace(s: Session, body: dict[str, Any], owner: str) -> MetadefNamespace:
    """A namespace and everything its body holds, in the caller's transaction."""
    name = body["namespace"]
    ns = MetadefNamespace(
        namespace=name,
        display_name=body.get("display_name"),
        description=body.get("description"),
        visibility=body.get("visibility") or "private",
        protected=bool(body.get("protected", False)),
        owner=body.get("owner") or owner,
    )
    s.add(ns)
    flush_or_conflict(s, f"The metadata definition namespace={name} already exists.")
    for item in body.get("resource_type_associations") or []:
        if "name" not in item:
            raise errors.BadRequest("A resource type association needs a name.")
        add_association(s, ns, item)
    for obj in body.get("objects") or []:
        if "name" not in obj:
            raise errors.BadRequest("An object needs a name.")
        add_object(s, ns, obj)
    for prop_name, schema in (body.get("properties") or {}).items():
        add_property(s, ns, prop_name, schema)
    for tag in body.get("tags") or []:
        if "name" not in tag:
            raise errors.BadRequest("A tag needs a name.")
        add_tag(s, ns, tag["name"])
    return ns
