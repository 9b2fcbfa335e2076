"""The Identity v3 API router. Each resource lives in its own module with a
`register(router)` function; this module wires them together."""

from __future__ import annotations

from starlette.responses import Response

from stackbox.api.framework import Req, Router
from stackbox.identity.api import (
    app_credentials,
    assignments,
    auth,
    catalog_api,
    credentials,
    domain_config,
    domains,
    ec2,
    endpoint_groups,
    groups,
    implied_roles,
    oauth_consumers,
    policies,
    policies_extra,
    policy_docs,
    projects,
    roles,
    trust_api,
    users,
    versions,
)


def _vary(req: Req | None, resp: Response) -> None:
    resp.headers["Vary"] = "X-Auth-Token"


ROUTER = Router(
    "identity",
    prefix="/identity",
    style="identity",
    policy_defaults={**policies.RULES, **policies_extra.RULES},
    decorate=_vary,
)

MODULES = (
    versions,
    auth,
    domains,
    projects,
    users,
    groups,
    roles,
    implied_roles,
    assignments,
    app_credentials,
    catalog_api,
    credentials,
    ec2,
    policy_docs,
    domain_config,
    endpoint_groups,
    oauth_consumers,
    trust_api,
)
for module in MODULES:
    module.register(ROUTER)
