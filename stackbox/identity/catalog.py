"""The service catalog as tokens carry it, built from the catalog tables and cached
until identity data changes (TokenService.invalidate calls `invalidate`)."""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from stackbox.identity.models import CatalogEndpoint, CatalogService

_cache: list[dict] | None = None
_lock = threading.Lock()

# What `stackbox up` registers: (type, name, path under the public URL).
DEFAULT_SERVICES = [
    ("identity", "keystone", "/identity"),
    ("compute", "nova", "/compute/v2.1"),
    ("image", "glance", "/image"),
    ("block-storage", "cinder", "/volume/v3"),
    ("network", "neutron", "/networking"),
]
INTERFACES = ("public", "internal", "admin")


def invalidate() -> None:
    global _cache
    with _lock:
        _cache = None


def token_catalog(s: Session) -> list[dict]:
    global _cache
    cached = _cache
    if cached is not None:
        return cached
    services = list(
        s.scalars(
            select(CatalogService)
            .where(CatalogService.enabled.is_(True))
            .order_by(CatalogService.type)
        )
    )
    endpoints = list(
        s.scalars(
            select(CatalogEndpoint)
            .where(CatalogEndpoint.enabled.is_(True))
            .order_by(CatalogEndpoint.interface)
        )
    )
    out = []
    for svc in services:
        eps = [
            {
                "id": e.id,
                "interface": e.interface,
                "region_id": e.region_id,
                "url": e.url,
                "region": e.region_id,
            }
            for e in endpoints
            if e.service_id == svc.id
        ]
        out.append({"endpoints": eps, "id": svc.id, "type": svc.type, "name": svc.name or ""})
    with _lock:
        _cache = out
    return out
