"""The service registry: heartbeats in, up/down and status rows out.

Pure functions over a SQLAlchemy Session (the caller commits, e.g. with
`db.session()`), the way Nova's servicegroup DB driver works: every service writes
`last_seen_up` each `report_interval`; one not seen for `service_down_time` seconds,
or forced down by an operator, is down (Compute admin guide 5.4.12).

Nothing here talks to the bus or sleeps; the heartbeat loop lives in `runner.py`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from stackbox.db.base import utcnow
from stackbox.service.models import ServiceRecord

# Binaries whose hosts belong to an availability zone; everything else is "internal".
COMPUTE_BINARIES = frozenset({"stackbox-compute"})
DEFAULT_ZONE = "nova"
INTERNAL_ZONE = "internal"

_TABLE: Table = ServiceRecord.__table__  # type: ignore[assignment]  # Core: true rowcounts


def record_heartbeat(session: Session, binary: str, topic: str, host: str) -> ServiceRecord:
    """Note that `binary` on `host` is alive now: create its row on the first report
    (with a fresh uuid), then bump report_count and last_seen_up. Safe when several
    processes report the same service at once (atomic UPDATE, INSERT-if-missing)."""
    now = utcnow()
    if not _bump(session, binary, topic, host, now) and not _insert_if_missing(
        session, binary, topic, host, now
    ):
        _bump(session, binary, topic, host, now)  # somebody else inserted it just now
    stmt = select(ServiceRecord).where(ServiceRecord.binary == binary, ServiceRecord.host == host)
    return session.scalars(stmt.execution_options(populate_existing=True)).one()


def _bump(session: Session, binary: str, topic: str, host: str, now: dt.datetime) -> bool:
    c = _TABLE.c
    stmt = (
        update(_TABLE)
        .where(c.binary == binary, c.host == host)
        .values(report_count=c.report_count + 1, last_seen_up=now, topic=topic, updated_at=now)
    )
    return session.connection().execute(stmt).rowcount > 0


def _insert_if_missing(
    session: Session, binary: str, topic: str, host: str, now: dt.datetime
) -> bool:
    """INSERT the row with its first report unless (binary, host) exists; True if
    inserted. Not a savepoint + IntegrityError: savepoints are unreliable on pysqlite."""
    values = {
        "uuid": str(uuid.uuid4()),
        "binary": binary,
        "topic": topic,
        "host": host,
        "report_count": 1,
        "last_seen_up": now,
        "disabled": False,
        "forced_down": False,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    dialect = session.get_bind().dialect.name
    conn = session.connection()
    if dialect in ("postgresql", "sqlite"):
        ins = pg_insert(_TABLE) if dialect == "postgresql" else sqlite_insert(_TABLE)
        stmt = ins.values(**values).on_conflict_do_nothing().returning(_TABLE.c.id)
        return conn.execute(stmt).first() is not None  # rowcount is -1 with RETURNING
    if dialect in ("mysql", "mariadb"):
        return conn.execute(insert(_TABLE).values(**values).prefix_with("IGNORE")).rowcount > 0
    conn.execute(insert(_TABLE).values(**values))
    return True


def list_services(session: Session) -> list[ServiceRecord]:
    """Every registered service, ordered by id."""
    return list(session.scalars(select(ServiceRecord).order_by(ServiceRecord.id)))


def is_up(record: ServiceRecord, down_time: float, now: dt.datetime | None = None) -> bool:
    """Up unless forced down, never seen, or last seen more than `down_time` seconds
    before `now` (naive UTC, default utcnow())."""
    if record.forced_down or record.last_seen_up is None:
        return False
    now = now or utcnow()
    return (now - record.last_seen_up).total_seconds() <= down_time


def zone_of(record: ServiceRecord) -> str:
    return DEFAULT_ZONE if record.binary in COMPUTE_BINARIES else INTERNAL_ZONE


def _iso(value: dt.datetime | None) -> str | None:
    return value.replace(microsecond=0).isoformat() if value else None


def status_rows(
    session: Session, down_time: float, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """One dict per service, as `openstack compute service list` shows them: id,
    binary, host, zone, status (enabled/disabled), state (up/down), updated_at (ISO,
    the last heartbeat), disabled_reason."""
    now = now or utcnow()
    return [
        {
            "id": rec.id,
            "binary": rec.binary,
            "host": rec.host,
            "zone": zone_of(rec),
            "status": "disabled" if rec.disabled else "enabled",
            "state": "up" if is_up(rec, down_time, now) else "down",
            "updated_at": _iso(rec.last_seen_up or rec.updated_at),
            "disabled_reason": rec.disabled_reason,
        }
        for rec in list_services(session)
    ]
