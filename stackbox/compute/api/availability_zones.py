"""Availability zones: GET /v2.1/os-availability-zone (anyone: the zones of enabled
compute hosts, available while one of their services is up) and /detail (admin:
also the "internal" zone of the control services, and every host's services with
`available` (enabled), `active` (up) and `updated_at`, under Nova's binary names;
the API service is not listed, as in Nova). Zones come from aggregate
metadata (`stackbox/compute/zones.py`); a compute host in no zoned aggregate is in
`[compute] default_availability_zone`. Zones of disabled hosts are listed as
unavailable, as Nova does."""

from __future__ import annotations

from typing import Any

from stackbox.api.framework import Req, Router
from stackbox.compute import zones
from stackbox.compute.api import common, service_names
from stackbox.compute.api.services import default_zone, state_of, zone_for
from stackbox.service import registry


def _zones(req: Req, detail: bool) -> list[dict[str, Any]]:
    host_zones = zones.host_zones(req.db, default_zone(req))
    available: dict[str, dict[str, dict]] = {}
    unavailable: dict[str, dict[str, dict]] = {}
    for rec in registry.list_services(req.db):
        if not service_names.listed(rec.binary):
            continue
        zone = zone_for(rec, host_zones, default_zone(req))
        if zone == registry.INTERNAL_ZONE and not detail:
            continue
        up = state_of(req, rec) == "up"
        bucket = available if (not rec.disabled and up) else unavailable
        hosts = bucket.setdefault(zone, {})
        hosts.setdefault(rec.host, {})[service_names.public(rec.binary)] = {
            "available": not rec.disabled,
            "active": up,
            "updated_at": common.iso_us(rec.last_seen_up or rec.updated_at),
        }
    out: list[dict[str, Any]] = []
    for zone in sorted(available, key=lambda z: (z != registry.INTERNAL_ZONE, z)):
        entry: dict[str, Any] = {"zoneName": zone, "zoneState": {"available": True}}
        entry["hosts"] = available[zone] if detail else None
        out.append(entry)
    for zone in sorted(set(unavailable) - set(available)):
        entry = {"zoneName": zone, "zoneState": {"available": False}}
        entry["hosts"] = unavailable[zone] if detail else None
        out.append(entry)
    if detail:  # unavailable hosts of an available zone are still shown
        for entry in out:
            for host, services in unavailable.get(entry["zoneName"], {}).items():
                entry["hosts"].setdefault(host, {}).update(services)
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
