"""The Image API v2 router (Glance-compatible), mounted at /image. Each resource lives
in its own module with a `register(router)` function; this module wires them together."""

from __future__ import annotations

from starlette.responses import Response

from stackbox.api.framework import Req, Router
from stackbox.image.api import (
    actions,
    images,
    imports,
    info,
    members,
    metadefs_common,
    metadefs_namespaces,
    metadefs_objects,
    metadefs_properties,
    metadefs_resource_types,
    metadefs_schemas,
    metadefs_tags,
    policies,
    schemas,
    tags,
    task_create,
    tasks,
    upload,
    versions,
)


def _decorate(req: Req | None, resp: Response) -> None:
    resp.headers.setdefault("Vary", "X-Auth-Token")


ROUTER = Router(
    "image",
    prefix="/image",
    style="image",
    policy_defaults={**policies.RULES, **metadefs_common.RULES},
    decorate=_decorate,
    forbidden_message=lambda action: f"You are not authorized to complete {action} action.",
)

for module in (
    versions,
    schemas,
    info,
    images,
    actions,
    tags,
    members,
    upload,
    imports,
    metadefs_schemas,
    metadefs_namespaces,
    metadefs_objects,
    metadefs_properties,
    metadefs_resource_types,
    metadefs_tags,
    tasks,
    task_create,
):
    module.register(ROUTER)
