"""Usage: the window arithmetic of stackbox/compute/usage.py, and os-simple-tenant-usage
(all projects for admins, one project for its members; deleted servers count; 2.40
paging; Nova's 400s)."""

from __future__ import annotations

import datetime as dt

import pytest

from stackbox.compute import states, usage
from tests.compute.api.actions_helpers import make_instance, who
from tests.compute.api.conftest import Cloud, call

T0 = dt.datetime(2031, 5, 1, 0, 0, 0)
H = dt.timedelta(hours=1)


def _run(launched: dt.datetime | None, ended: dt.datetime | None = None) -> usage.InstanceRun:
    return usage.InstanceRun("u", "vm", "p", "m1.tiny", 512, 2, 10, "active", launched, ended)


@pytest.mark.parametrize(
    ("launched", "ended", "hours"),
    [
        (T0, None, 10.0),  # running through the whole window
        (T0 - 5 * H, None, 10.0),  # launched before the window: clipped
        (T0 + 4 * H, T0 + 6 * H, 2.0),  # inside the window
        (T0 - 5 * H, T0 - H, 0.0),  # gone before the window
        (T0 + 11 * H, None, 0.0),  # launched after it
        (None, None, 0.0),  # never launched
        (T0 + 8 * H, T0 + 20 * H, 2.0),  # ended after the window
    ],
)
def test_hours_in_window(launched, ended, hours) -> None:  # type: ignore[no-untyped-def]
    assert usage.hours_in_window(_run(launched, ended), T0, T0 + 10 * H) == pytest.approx(hours)


def test_summarize_totals_and_states() -> None:
    runs = [_run(T0), _run(T0 + 8 * H, T0 + 9 * H)]
    (pu,) = usage.summarize(runs, T0, T0 + 10 * H, now=T0 + 12 * H)
    body = usage.render(pu, detailed=True)
    assert body["total_hours"] == pytest.approx(11.0)
    assert body["total_memory_mb_usage"] == pytest.approx(512 * 11)
    assert body["total_vcpus_usage"] == pytest.approx(22)
    assert body["total_local_gb_usage"] == pytest.approx(110)
    first, second = body["server_usages"]
    assert (first["state"], first["uptime"], first["ended_at"]) == ("active", 12 * 3600, None)
    assert (second["state"], second["uptime"]) == ("terminated", 3600)
    assert second["started_at"] == "2031-05-01T08:00:00.000000"
    assert "server_usages" not in usage.render(pu, detailed=False)


def _q(start: dt.datetime, end: dt.datetime) -> str:
    return f"start={start.isoformat()}&end={end.isoformat()}"


def test_usage_list_and_show(cloud: Cloud, admin: dict, demo: dict) -> None:
    me = who(cloud, demo)
    base = dt.datetime(2001, 3, 1, 12, 0, 0)  # before every other test's servers
    up = make_instance(cloud, me, launched_at=base)
    gone = make_instance(
        cloud, me, states.DELETED, launched_at=base, terminated_at=base + 2 * H, deleted=True
    )
    window = _q(base, base + 4 * H)
    r = call(cloud, "GET", f"/os-simple-tenant-usage?detailed=1&{window}", admin)
    assert r.status_code == 200, r.text
    (mine,) = [u for u in r.json()["tenant_usages"] if u["tenant_id"] == me.project_id]
    assert mine["total_hours"] == pytest.approx(6.0)
    assert mine["total_memory_mb_usage"] == pytest.approx(512 * 6)
    assert mine["total_vcpus_usage"] == pytest.approx(6)
    assert mine["total_local_gb_usage"] == pytest.approx(6)
    assert mine["start"] == base.isoformat() and mine["stop"] == (base + 4 * H).isoformat()
    by_id = {s["instance_id"]: s for s in mine["server_usages"]}
    assert by_id[up]["hours"] == pytest.approx(4) and by_id[up]["state"] == "active"
    assert by_id[gone]["state"] == "terminated" and by_id[gone]["hours"] == pytest.approx(2)
    summary = call(cloud, "GET", f"/os-simple-tenant-usage?{window}", admin).json()
    assert all("server_usages" not in u for u in summary["tenant_usages"])
    r = call(cloud, "GET", f"/os-simple-tenant-usage/{me.project_id}?{window}", demo)
    assert r.status_code == 200, r.text
    assert len(r.json()["tenant_usage"]["server_usages"]) == 2
    later = _q(base + 10 * H, base + 11 * H)
    r = call(cloud, "GET", f"/os-simple-tenant-usage/{me.project_id}?{later}", demo)
    shown = r.json()["tenant_usage"]
    assert [s["instance_id"] for s in shown["server_usages"]] == [up]  # the deleted one ended


def test_usage_policy_and_errors(cloud: Cloud, admin: dict, demo: dict) -> None:
    boss = who(cloud, admin)
    assert call(cloud, "GET", "/os-simple-tenant-usage", demo).status_code == 403
    assert call(cloud, "GET", f"/os-simple-tenant-usage/{boss.project_id}", demo).status_code == 403
    r = call(cloud, "GET", "/os-simple-tenant-usage?start=yesterday", admin)
    assert r.status_code == 400
    assert r.json()["badRequest"]["message"] == "Datetime is in invalid format"
    r = call(cloud, "GET", f"/os-simple-tenant-usage?{_q(T0 + H, T0)}", admin)
    assert r.status_code == 400
    assert "start time cannot occur after the end time" in r.json()["badRequest"]["message"]
    r = call(cloud, "GET", "/os-simple-tenant-usage/nobody", admin)
    assert r.status_code == 200 and r.json() == {"tenant_usage": {}}


def test_paging_2_40(cloud: Cloud, admin: dict, demo: dict) -> None:
    me = who(cloud, demo)
    base = dt.datetime(1995, 7, 1)  # before the other tests' servers, and over by 2 h
    ids = [make_instance(cloud, me, launched_at=base, terminated_at=base + 2 * H) for _ in range(3)]
    window = _q(base, base + H)
    path = f"/os-simple-tenant-usage/{me.project_id}?detailed=1&{window}&limit=2"
    r = call(cloud, "GET", path, demo, "2.40")
    assert r.status_code == 200, r.text
    first = [s["instance_id"] for s in r.json()["tenant_usage"]["server_usages"]]
    assert len(first) == 2 and set(first) <= set(ids)
    nxt = r.json()["tenant_usage_links"][0]["href"]
    assert f"marker={first[-1]}" in nxt
    r = call(cloud, "GET", f"{path}&marker={first[-1]}", demo, "2.40")
    rest = [s["instance_id"] for s in r.json()["tenant_usage"]["server_usages"]]
    assert set(first + rest) == set(ids)
    r = call(cloud, "GET", f"{path}&marker=nope", demo, "2.40")
    assert r.status_code == 400
