"""GET /v2.1/os-migrations: every move of every server (resizes today), for admins.

Filters: host (source or destination), source_compute, status, instance_uuid,
migration_type (and, before 2.59 where Nova passes any query on to its database
filter, node, user_id and project_id). By microversion, as Nova:
- 2.23: `migration_type`, and `links` on in-progress live migrations;
- 2.59: `uuid`; newest first, `limit`/`marker` (a migration uuid) paging with
  `migrations_links`; `changes-since` (on updated_at); unknown parameters are a 400;
- 2.66: `changes-before`; 2.80: `user_id`/`project_id` in the view and as filters.
Policy: `index` (a project's manager for their own project), `index:all_projects`
unless the request names the caller's project, `index:host` for the host fields
(None otherwise). Hidden and deleted (their server's gone) records are never listed.
Not here: the per-server list (server_migrations.py), the statuses (compute/migrations.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, or_, select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.compute.api import common
from stackbox.compute.api.microversion import version
from stackbox.compute.opmodels import Migration

RULE = "os_compute_api:os-migrations:%s"
# Statuses of a live migration under way (Nova links to them, and lists them per server).
LIVE_IN_PROGRESS = frozenset({"queued", "preparing", "running", "post-migrating"})
_FILTERS = ("hidden", "host", "instance_uuid", "source_compute", "status", "migration_type")
# The query parameters Nova's schema accepts, by microversion (before 2.59: any).
_ALLOWED_259 = frozenset((*_FILTERS, "limit", "marker", "changes-since"))
_ALLOWED_266 = _ALLOWED_259 | {"changes-before"}
_ALLOWED_280 = _ALLOWED_266 | {"user_id", "project_id"}


def migration_view(req: Req, m: Migration, host: bool) -> dict[str, Any]:
    """One os-migrations entry in the request's microversion; `host`: the host fields
    (index:host policy), else None."""
    mv = version(req)
    out: dict[str, Any] = {
        "id": m.id,
        "status": m.status,
        "instance_uuid": m.instance_uuid,
        "source_node": m.source_node if host else None,
        "source_compute": m.source_compute if host else None,
        "dest_node": m.dest_node if host else None,
        "dest_compute": m.dest_compute if host else None,
        "dest_host": m.dest_host if host else None,
        "old_instance_type_id": m.old_instance_type_id,
        "new_instance_type_id": m.new_instance_type_id,
        "created_at": common.iso_us(m.created_at),
        "updated_at": common.iso_us(m.updated_at),
    }
    if mv >= (2, 23):
        out["migration_type"] = m.migration_type
        if m.migration_type == "live-migration" and m.status in LIVE_IN_PROGRESS:
            out["links"] = common.links(req, f"servers/{m.instance_uuid}/migrations", str(m.id))
    if mv >= (2, 59):
        out["uuid"] = m.uuid
    if mv >= (2, 80):
        out["user_id"] = m.user_id
        out["project_id"] = m.project_id
    return out


def _check_query(req: Req) -> None:
    mv = version(req)
    if mv < (2, 59):
        return
    allowed = _ALLOWED_280 if mv >= (2, 80) else _ALLOWED_266 if mv >= (2, 66) else _ALLOWED_259
    common.reject_unknown_query(req, allowed)


def _authorize(req: Req) -> bool:
    """Policy as Nova's; returns whether the host fields may be shown."""
    ctx = req.context
    own = {"project_id": ctx.project_id, "user_id": ctx.user_id}
    req.authorize(RULE % "index", own)
    asked = req.query.get("project_id")
    if not asked or asked != ctx.project_id:
        req.authorize(RULE % "index:all_projects", own)
    return req.allowed(RULE % "index:host", own)


def _filtered(req: Req) -> Select[Any]:
    q = req.query
    mv = version(req)
    stmt = select(Migration).where(Migration.deleted.is_(False), Migration.hidden.is_(False))
    if q.get("status") is not None:
        stmt = stmt.where(Migration.status == q["status"])
    if q.get("host") is not None:
        stmt = stmt.where(or_(Migration.source_compute == q["host"],
                              Migration.dest_compute == q["host"]))  # fmt: skip
    elif q.get("source_compute") is not None:
        stmt = stmt.where(Migration.source_compute == q["source_compute"])
    if q.get("node") is not None and mv < (2, 59):
        stmt = stmt.where(or_(Migration.source_node == q["node"],
                              Migration.dest_node == q["node"]))  # fmt: skip
    for name in ("migration_type", "instance_uuid", "user_id", "project_id"):
        if q.get(name) is not None:
            stmt = stmt.where(getattr(Migration, name) == q[name])
    if mv >= (2, 59):
        since = _time(req, "changes-since")
        before = _time(req, "changes-before") if mv >= (2, 66) else None
        if since and before and before < since:
            raise errors.BadRequest(
                "The value of changes-since must be less than or equal to changes-before."
            )
        if since is not None:
            stmt = stmt.where(Migration.updated_at >= since)
        if before is not None:
            stmt = stmt.where(Migration.updated_at <= before)
    return stmt


def _time(req: Req, name: str) -> Any:
    raw = req.query.get(name)
    return None if raw is None else common.query_time(name, raw)


def _page(req: Req, stmt: Select[Any]) -> tuple[list[Migration], int]:
    """Newest first from the marker on, at most `limit` (2.59+)."""
    limit, marker = common.paging(req)
    if marker is not None:
        mrow = req.db.scalar(
            select(Migration).where(Migration.uuid == marker, Migration.deleted.is_(False))
        )
        if mrow is None:
            raise errors.BadRequest(f"Marker {marker} could not be found.")
        stmt = stmt.where(
            (Migration.created_at < mrow.created_at)
            | ((Migration.created_at == mrow.created_at) & (Migration.id < mrow.id))
        )
    if limit == 0:
        return [], 0
    stmt = stmt.order_by(Migration.created_at.desc(), Migration.id.desc()).limit(limit)
    return list(req.db.scalars(stmt)), limit


def list_migrations(req: Req) -> dict[str, Any]:
    _check_query(req)
    host = _authorize(req)
    stmt = _filtered(req)
    if version(req) < (2, 59):
        every: list[Migration] = list(req.db.scalars(stmt.order_by(Migration.id)))
        return {"migrations": [migration_view(req, m, host) for m in every]}
    rows, limit = _page(req, stmt)
    out: dict[str, Any] = {"migrations": [migration_view(req, m, host) for m in rows]}
    if limit and len(rows) == limit:
        out["migrations_links"] = common.next_link_keeping(req, "os-migrations", rows[-1].uuid)
    return out


def register(router: Router) -> None:
    router.route("GET", "/v2.1/os-migrations")(list_migrations)
