"""The Identity v3 API router. Each resource lives in its own module with a
`register(router)` function; this module wires them together."""

from __future__ import annotations

from starlette.responses import Response

from stackbox.api.framework import Req, Router
from stackbox.identity.api import (
    assignments,
    auth,
    catalog_api,
    credentials,
    domain_config,
    domains,
    ec2,
    endpoint_groups,
    groups,
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

for module in (versions, auth, domains, projects, users, groups, roles, assignments, catalog_api):
    module.register(ROUTER)
credentials.register(ROUTER)
ec2.register(ROUTER)
policy_docs.register(ROUTER)
domain_config.register(ROUTER)
endpoint_groups.register(ROUTER)
oauth_consumers.register(ROUTER)
trust_api.register(ROUTER)
