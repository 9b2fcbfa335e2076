"""Availability zones: GET /v2.1/os-availability-zone (anyone) and /detail (admin), as
Nova computes them: a zone is available when one of its services is enabled, and
unavailable when all of its services are disabled (up or down does not matter there).
The index leaves out the "internal" zone of the control services; the detail lists it,
and under each available zone the hosts of its enabled services with, per service
(under Nova's binary names), `available` (the service is up), `active` (enabled) and
`updated_at`; unavailable zones have no hosts. The API service is not listed, as in
Nova. Zones come from aggregate metadata (`stackbox/compute/zones.py`); a compute host
in no zoned aggregate is in `[compute] default_availability_zone`."""

from __future__ import annotations

from typing import Any

from stackbox.api.framework import Req, Router
from stackbox.compute import zones
from stackbox.compute.api import common, service_names
from stackbox.compute.api.services import default_zone, state_of, zone_for
from stackbox.service import registry


def _zones(req: Req, detail: bool) -> list[dict[str, Any]]:
    host_zones = zones.host_zones(req.db, default_zone(req))
    enabled: dict[str, dict[str, dict]] = {}
    disabled: set[str] = set()
    for rec in registry.list_services(req.db):
        if not service_names.listed(rec.binary):
            continue
        zone = zone_for(rec, host_zones, default_zone(req))
        if zone == registry.INTERNAL_ZONE and not detail:
            continue
        if rec.disabled:
            disabled.add(zone)
            continue
        enabled.setdefault(zone, {}).setdefault(rec.host, {})[service_names.public(rec.binary)] = {
            "available": state_of(req, rec) == "up",
            "active": True,
            "updated_at": common.iso_us(rec.last_seen_up or rec.updated_at),
        }
    out: list[dict[str, Any]] = []
    for zone in sorted(enabled, key=lambda z: (z != registry.INTERNAL_ZONE, z)):
        hosts = enabled[zone] if detail else None
        out.append({"zoneName": zone, "zoneState": {"available": True}, "hosts": hosts})
    for zone in sorted(disabled - set(enabled)):
        out.append({"zoneName": zone, "zoneState": {"available": False}, "hosts": None})
    return out


def register(router: Router) -> None:
    @router.route("GET", "/v2.1/os-availability-zone")
    def index(req: Req) -> dict:
        req.authorize("os_compute_api:os-availability-zone:list")
        return {"availabilityZoneInfo": _zones(req, detail=False)}

    @router.route("GET", "/v2.1/os-availability-zone/detail")
    def detail(req: Req) -> dict:
        req.authorize("os_compute_api:os-availability-zone:detail")
        return {"availabilityZoneInfo": _zones(req, detail=True)}
