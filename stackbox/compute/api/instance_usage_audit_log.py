"""Instance usage audit log (admin): GET /v2.1/os-instance_usage_audit_log (the audit
period last completed now) and /os-instance_usage_audit_log/{before} (the one last
completed before `before`, "YYYY-MM-DD HH:MM:SS[.ffffff]"; 400 otherwise).

Nova reports there what its compute hosts' periodic `instance_usage_audit` task wrote
to its task log for that period. stackbox runs no such audit task, so the report is
what Nova answers when none ran: every compute service's host (disabled ones too, as
Nova counts them) is a host not run, with no log, no instances and no errors. The
period is Nova's default `instance_usage_audit_period`, a calendar month (UTC).
Nothing here invents audit records; a real audit task would add its log rows here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.compute.api.services import compute_services
from stackbox.db.base import utcnow


def last_completed_month(before: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """(begin, end) of the last calendar month that ended strictly before `before`:
    a period ends at midnight on the 1st, and one ending exactly at `before` has not
    completed yet (Nova's last_completed_audit_period for 'month')."""
    end = dt.datetime(before.year, before.month, 1)
    if end >= before:
        end = _month_before(end)
    return _month_before(end), end


def _month_before(first: dt.datetime) -> dt.datetime:
    if first.month == 1:
        return first.replace(year=first.year - 1, month=12)
    return first.replace(month=first.month - 1)


def parse_before(raw: str) -> dt.datetime:
    """Nova's two accepted spellings; 400 for anything else."""
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in raw else "%Y-%m-%d %H:%M:%S"
    try:
        return dt.datetime.strptime(raw, fmt)
    except ValueError:
        raise errors.BadRequest(f"Invalid timestamp for date {raw}") from None


def report(hosts: list[str], before: dt.datetime) -> dict[str, Any]:
    """The audit report of the period last completed before `before` when no compute
    host has run the audit: all of `hosts` not run."""
    begin, end = last_completed_month(before)
    not_run = sorted(set(hosts))
    done = "ALL" if not not_run else f"0 of {len(not_run)}"
    return {
        "period_beginning": str(begin),
        "period_ending": str(end),
        "num_hosts": len(not_run),
        "num_hosts_done": 0,
        "num_hosts_running": 0,
        "num_hosts_not_run": len(not_run),
        "hosts_not_run": not_run,
        "total_instances": 0,
        "total_errors": 0,
        "overall_status": f"{done} hosts done. 0 errors.",
        "log": {},
    }


def register(router: Router) -> None:
    @router.route("GET", "/v2.1/os-instance_usage_audit_log")
    def index(req: Req) -> dict:
        req.authorize("os_compute_api:os-instance-usage-audit-log:list")
        return {"instance_usage_audit_logs": report(list(compute_services(req)), utcnow())}

    @router.route("GET", "/v2.1/os-instance_usage_audit_log/{before}")
    def show(req: Req) -> dict:
        req.authorize("os_compute_api:os-instance-usage-audit-log:show")
        before = parse_before(req.params["before"])
        return {"instance_usage_audit_log": report(list(compute_services(req)), before)}
