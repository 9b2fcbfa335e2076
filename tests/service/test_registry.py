"""The service registry on SQLite and PostgreSQL: heartbeats create and update rows,
up/down follows service_down_time and forced_down, status rows have the CLI's shape."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

from stackbox.db import Database
from stackbox.db.base import utcnow
from stackbox.service import registry


def test_first_heartbeat_creates_the_row(db: Database) -> None:
    before = utcnow()
    with db.session() as s:
        rec = registry.record_heartbeat(s, "stackbox-conductor", "conductor", "ctl1")
    assert uuid.UUID(rec.uuid).version == 4
    assert rec.report_count == 1
    assert rec.last_seen_up is not None and rec.last_seen_up >= before
    assert (rec.binary, rec.topic, rec.host) == ("stackbox-conductor", "conductor", "ctl1")
    assert rec.disabled is False and rec.forced_down is False


def test_later_heartbeats_update_the_same_row(db: Database) -> None:
    with db.session() as s:
        first = registry.record_heartbeat(s, "stackbox-compute", "compute", "cmp1")
    with db.session() as s:
        again = registry.record_heartbeat(s, "stackbox-compute", "compute", "cmp1")
        registry.record_heartbeat(s, "stackbox-compute", "compute", "cmp2")
    assert again.id == first.id and again.uuid == first.uuid
    assert again.report_count == 2
    assert again.last_seen_up >= first.last_seen_up
    with db.session() as s:
        rows = registry.list_services(s)
    assert [(r.host, r.report_count) for r in rows] == [("cmp1", 2), ("cmp2", 1)]


def test_concurrent_first_heartbeats_make_one_row(db: Database) -> None:
    errors: list[BaseException] = []

    def beat() -> None:
        try:
            with db.session() as s:
                registry.record_heartbeat(s, "stackbox-api", "api", "race")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=beat) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session() as s:
        rows = registry.list_services(s)
    assert len(rows) == 1 and rows[0].report_count == 6


def test_up_and_down_by_time(db: Database) -> None:
    with db.session() as s:
        rec = registry.record_heartbeat(s, "stackbox-conductor", "conductor", "ctl1")
    seen = rec.last_seen_up
    assert registry.is_up(rec, 60, now=seen)
    assert registry.is_up(rec, 60, now=seen + dt.timedelta(seconds=59))
    assert not registry.is_up(rec, 60, now=seen + dt.timedelta(seconds=61))
    assert registry.is_up(rec, 60)  # default now: just reported


def test_forced_down_and_never_seen_are_down(db: Database) -> None:
    with db.session() as s:
        rec = registry.record_heartbeat(s, "stackbox-compute", "compute", "cmp1")
        rec.forced_down = True
    assert not registry.is_up(rec, 60, now=rec.last_seen_up)
    rec.forced_down, rec.last_seen_up = False, None
    assert not registry.is_up(rec, 60)


def test_status_rows(db: Database) -> None:
    with db.session() as s:
        registry.record_heartbeat(s, "stackbox-conductor", "conductor", "ctl1")
        cmp1 = registry.record_heartbeat(s, "stackbox-compute", "compute", "cmp1")
        cmp1.disabled, cmp1.disabled_reason = True, "maintenance"
    with db.session() as s:
        rows = registry.status_rows(s, 60)
        later = registry.status_rows(s, 60, now=utcnow() + dt.timedelta(minutes=5))
    assert [set(r) for r in rows] == [
        {"id", "binary", "host", "zone", "status", "state", "updated_at", "disabled_reason"}
    ] * 2
    ctl, cmp = rows
    assert (ctl["binary"], ctl["zone"], ctl["status"], ctl["state"]) == (
        "stackbox-conductor",
        "internal",
        "enabled",
        "up",
    )
    assert (cmp["zone"], cmp["status"], cmp["disabled_reason"]) == (
        "nova",
        "disabled",
        "maintenance",
    )
    dt.datetime.fromisoformat(ctl["updated_at"])
    assert [r["state"] for r in later] == ["down", "down"]
