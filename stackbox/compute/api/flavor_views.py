"""What the flavor resource modules share: finding a flavor the caller may see, and the
flavor's JSON in Nova's shape for the request's microversion.

Views by microversion (Nova 34, up to our maximum 2.100):
- 2.1: id, name, ram, disk, swap ("" when 0), OS-FLV-EXT-DATA:ephemeral,
  OS-FLV-DISABLED:disabled, vcpus, os-flavor-access:is_public, rxtx_factor, links;
- 2.55: + description (also in the brief list);
- 2.61: + extra_specs, only when the caller may read them (extra-specs index policy);
- 2.75: swap is an integer (0 rather than "").
(2.102 drops rxtx_factor and OS-FLV-DISABLED:disabled; we stop at 2.100.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.compute.api import common
from stackbox.compute.api.microversion import version
from stackbox.compute.models import Flavor, FlavorProject

EXTRA_SPECS_INDEX = "os_compute_api:os-flavor-extra-specs:index"


def is_admin(req: Req) -> bool:
    return req.allowed("context_is_admin")


def visible(req: Req) -> Any:
    """SQL condition: flavors the caller may see (admins: all; others: public ones
    and private ones their project was given access to)."""
    return visible_to(req.context.project_id)


def visible_to(project: Any) -> Any:
    """`visible` for a project id (or a bound parameter standing for one)."""
    return or_(
        Flavor.is_public.is_(True),
        Flavor.projects.any(FlavorProject.project_id == project),
    )


def get_flavor(req: Req, flavor_id: str) -> Flavor:
    """The flavor with API id `flavor_id` if the caller may see it, else Nova's 404."""
    q = select(Flavor).where(Flavor.flavorid == flavor_id)
    if not is_admin(req):
        q = q.where(visible(req))
    flavor = req.db.scalar(q)
    if flavor is None:
        raise errors.NotFound(f"Flavor {flavor_id} could not be found.")
    return flavor


def may_read_specs(req: Req) -> bool:
    """Whether a 2.61+ flavor view includes extra_specs for this caller."""
    return version(req) >= (2, 61) and req.allowed(
        EXTRA_SPECS_INDEX, {"project_id": req.context.project_id}
    )


def basic(req: Req, flavor: Flavor) -> dict[str, Any]:
    """GET /flavors entry."""
    body: dict[str, Any] = {
        "id": flavor.flavorid,
        "name": flavor.name,
        "links": common.links(req, "flavors", flavor.flavorid),
    }
    if version(req) >= (2, 55):
        body["description"] = flavor.description
    return body


def show(req: Req, flavor: Flavor, *, specs: bool | None = None) -> dict[str, Any]:
    """The full flavor (detail list entry, show, create and update responses)."""
    v = version(req)
    body: dict[str, Any] = {
        "id": flavor.flavorid,
        "name": flavor.name,
        "ram": flavor.memory_mb,
        "disk": flavor.root_gb,
        "swap": flavor.swap or (0 if v >= (2, 75) else ""),
        "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb,
        "OS-FLV-DISABLED:disabled": bool(flavor.disabled),
        "vcpus": flavor.vcpus,
        "os-flavor-access:is_public": bool(flavor.is_public),
        "rxtx_factor": flavor.rxtx_factor,
        "links": common.links(req, "flavors", flavor.flavorid),
    }
    if v >= (2, 55):
        body["description"] = flavor.description
    if specs is None:
        specs = may_read_specs(req)
    if specs:
        body["extra_specs"] = flavor.specs
    return body
