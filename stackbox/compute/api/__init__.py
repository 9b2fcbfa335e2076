"""The Compute API v2.1 router (Nova-compatible), mounted at /compute. Each resource
lives in its own module with a `register(router)` function; this module wires them
together. Errors use Nova's body (`{"itemNotFound": {"code": 404, "message": ...}}`)."""

from __future__ import annotations

import importlib

from stackbox.api.framework import Router
from stackbox.compute.api import microversion, policies

ROUTER = Router(
    "compute",
    prefix="/compute",
    style="compute",
    policy_defaults=policies.RULES,
    decorate=microversion.decorate,
    prepare=microversion.prepare,
    forbidden_message=lambda action: f"Policy doesn't allow {action} to be performed.",
)

# Resource modules, in registration order.
MODULES = (
    "versions",
    "flavors",
    "flavor_access",
    "flavor_extra_specs",
    "keypairs",
    "servers",
    "server_actions",
    "server_delete",
    "server_metadata",
    "server_tags",
    "instance_actions",
    "quota_sets",
    "quota_classes",
    "limits",
    "simple_tenant_usage",
    "hypervisors",
    "services",
    "availability_zones",
    "hosts",
    "server_diagnostics",
    "migrations",
    "server_migrations",
    "aggregates",
    "server_groups",
    "images",
    "image_metadata",
    "extensions",
    "instance_usage_audit_log",
    "server_external_events",
)

for _name in MODULES:
    importlib.import_module(f"stackbox.compute.api.{_name}").register(ROUTER)
# Last: the legacy v2 API at /v2 serves every route registered above.
importlib.import_module("stackbox.compute.api.legacy_v2").mount(ROUTER)
