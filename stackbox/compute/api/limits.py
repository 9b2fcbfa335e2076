"""GET /v2.1/limits: the caller's absolute limits with what is in use (Nova's shape as
the sample limits.json; `rate` is always empty). An admin may ask for another project
with ?tenant_id=. 2.36 drops the network limits, 2.39 maxImageMeta, 2.57 the
personality limits."""

from __future__ import annotations

from typing import Any

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.compute import quotas
from stackbox.compute.api.microversion import version

_NETWORK = (
    "maxSecurityGroups",
    "maxSecurityGroupRules",
    "maxTotalFloatingIps",
    "totalFloatingIpsUsed",
    "totalSecurityGroupsUsed",
)


def absolute(lim: dict[str, int], used: dict[str, int], mv: tuple[int, int]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "maxTotalCores": lim["cores"],
        "maxPersonality": lim["injected_files"],
        "maxPersonalitySize": lim["injected_file_content_bytes"],
        "maxTotalInstances": lim["instances"],
        "maxTotalKeypairs": lim["key_pairs"],
        "maxServerMeta": lim["metadata_items"],
        "maxImageMeta": lim["metadata_items"],
        "maxTotalRAMSize": lim["ram"],
        "maxServerGroups": lim["server_groups"],
        "maxServerGroupMembers": lim["server_group_members"],
        "maxTotalFloatingIps": lim["floating_ips"],
        "maxSecurityGroups": lim["security_groups"],
        "maxSecurityGroupRules": lim["security_group_rules"],
        "totalRAMUsed": used["ram"],
        "totalCoresUsed": used["cores"],
        "totalInstancesUsed": used["instances"],
        "totalFloatingIpsUsed": 0,
        "totalSecurityGroupsUsed": 0,
        "totalServerGroupsUsed": used["server_groups"],
    }
    drop: list[str] = []
    if mv >= (2, 36):
        drop += _NETWORK
    if mv >= (2, 39):
        drop.append("maxImageMeta")
    if mv >= (2, 57):
        drop += ["maxPersonality", "maxPersonalitySize"]
    return {k: v for k, v in out.items() if k not in drop}


def register(router: Router) -> None:
    @router.route("GET", "/v2.1/limits")
    def index(req: Req) -> dict:
        mv = version(req)
        if mv >= (2, 75):
            extra = sorted(k for k in req.query if k not in ("tenant_id", "reserved"))
            if extra:
                names = ", ".join(repr(k) for k in extra)
                verb = "was" if len(extra) == 1 else "were"
                raise errors.BadRequest(
                    "Invalid input for query parameters: Additional properties are not "
                    f"allowed ({names} {verb} unexpected)"
                )
        ctx = req.context
        project_id = ctx.project_id or ""
        req.authorize("os_compute_api:limits", {"project_id": project_id})
        other = req.query.get("tenant_id")
        if other and other != project_id:
            req.authorize("os_compute_api:limits:other_project", {"project_id": other})
            project_id = other
        lim = quotas.limits(req.db, project_id, None, req.state.cfg)
        used = quotas.usage(req.db, project_id)
        return {"limits": {"rate": [], "absolute": absolute(lim, used, mv)}}
