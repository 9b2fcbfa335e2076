"""GET /v2.1/servers/{server_id}/migrations[/{migration_id}] (2.23+): a server's live
migrations in progress, as Nova lists them. Other moves (a resize, a cold migration)
never show here, so the list is empty for them and the show is a 404 in Nova's words.

By microversion: 2.59 adds `uuid`, 2.80 `user_id`/`project_id`. Policy: `index` and
`show` per server (`index:host` for the host fields of the list, else None). Before
2.23 the resource does not exist (404). Not here: os-migrations (migrations.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.compute.api import common, lookup
from stackbox.compute.api.microversion import version
from stackbox.compute.api.migrations import LIVE_IN_PROGRESS
from stackbox.compute.models import Instance
from stackbox.compute.opmodels import Migration

RULE = "os_compute_api:servers:migrations:%s"
LIVE = "live-migration"


def server_migration_view(req: Req, m: Migration, host: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "created_at": common.iso_us(m.created_at),
        "dest_compute": m.dest_compute if host else None,
        "dest_host": m.dest_host if host else None,
        "dest_node": m.dest_node if host else None,
        "disk_processed_bytes": m.disk_processed,
        "disk_remaining_bytes": m.disk_remaining,
        "disk_total_bytes": m.disk_total,
        "id": m.id,
        "memory_processed_bytes": m.memory_processed,
        "memory_remaining_bytes": m.memory_remaining,
        "memory_total_bytes": m.memory_total,
        "server_uuid": m.instance_uuid,
        "source_compute": m.source_compute if host else None,
        "source_node": m.source_node if host else None,
        "status": m.status,
        "updated_at": common.iso_us(m.updated_at),
    }
    if version(req) >= (2, 59):
        out["uuid"] = m.uuid
    if version(req) >= (2, 80):
        out["user_id"] = m.user_id
        out["project_id"] = m.project_id
    return out


def _instance(req: Req) -> Instance:
    if version(req) < (2, 23):
        raise errors.NotFound("The resource could not be found.")
    return lookup.get_instance(req, req.params["server_id"])


def list_server_migrations(req: Req) -> dict[str, Any]:
    inst = _instance(req)
    target = lookup.target(inst)
    req.authorize(RULE % "index", target)
    host = req.allowed(RULE % "index:host", target)
    rows = req.db.scalars(
        select(Migration)
        .where(
            Migration.instance_uuid == inst.uuid,
            Migration.deleted.is_(False),
            Migration.migration_type == LIVE,
            Migration.status.in_(sorted(LIVE_IN_PROGRESS)),
        )
        .order_by(Migration.id)
    )
    return {"migrations": [server_migration_view(req, m, host) for m in rows]}


def show_server_migration(req: Req) -> dict[str, Any]:
    inst = _instance(req)
    req.authorize(RULE % "show", lookup.target(inst))
    mid = req.params["migration_id"]
    m = None
    if mid.isdigit():
        m = req.db.scalar(
            select(Migration).where(
                Migration.id == int(mid),
                Migration.instance_uuid == inst.uuid,
                Migration.deleted.is_(False),
            )
        )
    if m is None:
        raise errors.NotFound(
            f"In-progress live migration {mid} is not found for server {inst.uuid}."
        )
    if m.migration_type != LIVE:
        raise errors.NotFound(f"Migration {mid} for server {inst.uuid} is not live-migration.")
    if m.status not in LIVE_IN_PROGRESS:
        raise errors.NotFound(f"Live migration {mid} for server {inst.uuid} is not in progress.")
    return {"migration": server_migration_view(req, m, True)}


def register(router: Router) -> None:
    router.route("GET", "/v2.1/servers/{server_id}/migrations")(list_server_migrations)
    router.route("GET", "/v2.1/servers/{server_id}/migrations/{migration_id}")(
        show_server_migration
    )
