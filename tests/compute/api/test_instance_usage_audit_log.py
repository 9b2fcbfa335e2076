"""os-instance_usage_audit_log: what Nova answers when no compute host ran the usage
audit (stackbox runs none): every compute host not run, nothing logged; the period is
the last calendar month completed before the given time."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from stackbox.compute.api.instance_usage_audit_log import last_completed_month
from tests.compute.api.conftest import Cloud, call
from tests.compute.api.ops_helpers import add_host

D = dt.datetime


def test_last_completed_month() -> None:
    assert last_completed_month(D(2026, 11, 23, 10, 0)) == (D(2026, 10, 1), D(2026, 11, 1))
    # A period ending exactly now has not completed yet.
    assert last_completed_month(D(2026, 11, 1)) == (D(2026, 9, 1), D(2026, 10, 1))
    assert last_completed_month(D(2026, 1, 5)) == (D(2025, 12, 1), D(2026, 1, 1))
    assert last_completed_month(D(2026, 2, 1)) == (D(2025, 12, 1), D(2026, 1, 1))


def test_show_reports_every_compute_host_not_run(cloud: Cloud, admin: dict) -> None:
    host = add_host(cloud)
    off = add_host(cloud)
    call(cloud, "PUT", "/os-services/disable", admin, json={"host": off, "binary": "nova-compute"})
    ctl = add_host(cloud, binary="stackbox-conductor")
    path = "/os-instance_usage_audit_log/" + quote("2026-11-23 10:11:12")
    r = call(cloud, "GET", path, admin)
    assert r.status_code == 200, r.text
    log = r.json()["instance_usage_audit_log"]
    assert (log["period_beginning"], log["period_ending"]) == (
        "2026-10-01 00:00:00", "2026-11-01 00:00:00")  # fmt: skip
    assert {host, off} <= set(log["hosts_not_run"]) and ctl not in log["hosts_not_run"]
    n = log["num_hosts"]
    assert log["hosts_not_run"] == sorted(log["hosts_not_run"]) and len(log["hosts_not_run"]) == n
    assert (log["num_hosts_not_run"], log["num_hosts_done"], log["num_hosts_running"]) == (n, 0, 0)
    assert (log["total_instances"], log["total_errors"], log["log"]) == (0, 0, {})
    assert log["overall_status"] == f"0 of {n} hosts done. 0 errors."
    r = call(cloud, "GET", "/os-instance_usage_audit_log/2026-11-23 10:11:12.5", admin)
    assert r.json()["instance_usage_audit_log"]["period_ending"] == "2026-11-01 00:00:00"


def test_index_is_the_period_completed_now(cloud: Cloud, admin: dict) -> None:
    r = call(cloud, "GET", "/os-instance_usage_audit_log", admin)
    assert r.status_code == 200, r.text
    logs = r.json()["instance_usage_audit_logs"]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert logs["period_ending"] == str(last_completed_month(now)[1])


def test_invalid_time_is_400_and_non_admin_403(cloud: Cloud, admin: dict, demo: dict) -> None:
    r = call(cloud, "GET", "/os-instance_usage_audit_log/invalid_time", admin)
    assert r.status_code == 400
    assert r.json()["badRequest"]["message"] == "Invalid timestamp for date invalid_time"
    for path in ("", "/invalid_time", "/" + quote("2026-11-23 10:11:12")):
        r = call(cloud, "GET", "/os-instance_usage_audit_log" + path, demo)
        assert r.status_code == 403, path
