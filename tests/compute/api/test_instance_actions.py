"""GET /servers/{id}/os-instance-actions[/{request_id}]: shapes per microversion (the
samples' keys), events and who sees their tracebacks/hosts, paging, deleted servers."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from stackbox.compute import states
from stackbox.compute.models import InstanceAction, InstanceActionEvent
from tests.compute.api.actions_helpers import (
    Bus,
    Who,
    act,
    bus_fixture,  # noqa: F401  (the `bus` fixture)
    error,
    make_instance,
)
from tests.compute.api.conftest import Cloud

API = "/compute/v2.1"
T0 = dt.datetime(2026, 11, 23, 20, 58, 15)
SAMPLE_KEYS = [
    "action",
    "instance_uuid",
    "request_id",
    "user_id",
    "project_id",
    "start_time",
    "message",
]


def get(cloud: Cloud, headers: dict, path: str, version: str | None = None, **params: Any) -> Any:
    h = dict(headers)
    if version:
        h["OpenStack-API-Version"] = f"compute {version}"
    return cloud.client.get(f"{API}{path}", headers=h, params=params)


def seed(cloud: Cloud, owner: Who, uid: str, n: int) -> list[str]:
    """n actions one minute apart (oldest first), the newest with two events."""
    rids = [f"req-{uid[:8]}-{i}" for i in range(n)]
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        for i, rid in enumerate(rids):
            t = T0 + dt.timedelta(minutes=i)
            row = InstanceAction(
                action="create" if i == 0 else "reboot",
                instance_uuid=uid,
                request_id=rid,
                user_id=owner.user_id,
                project_id=owner.project_id,
                start_time=t,
                updated_at=t + dt.timedelta(seconds=1),
            )
            if i == n - 1:
                row.events = [
                    InstanceActionEvent(
                        event="compute_reboot_instance",
                        start_time=t,
                        finish_time=t + dt.timedelta(seconds=1),
                        result="Error",
                        traceback="Traceback: boom",
                        host="h1",
                        details="boom",
                    )
                ]
            s.add(row)
    return rids


def test_list_newest_first_with_the_samples_keys(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = make_instance(cloud, me)
    rids = seed(cloud, me, uid, 2)
    r = act(cloud, me.headers, uid, {"os-stop": None})
    assert r.status_code == 202
    stop_rid = r.headers["x-openstack-request-id"]
    r = get(cloud, me.headers, f"/servers/{uid}/os-instance-actions")
    assert r.status_code == 200, r.text
    items = r.json()["instanceActions"]
    assert [i["request_id"] for i in items] == [stop_rid, rids[1], rids[0]]
    assert [list(i) for i in items] == [SAMPLE_KEYS] * 3
    assert items[0]["action"] == "stop" and items[0]["user_id"] == me.user_id
    assert items[2] == {
        "action": "create",
        "instance_uuid": uid,
        "request_id": rids[0],
        "user_id": me.user_id,
        "project_id": me.project_id,
        "start_time": "2026-11-23T20:58:15.000000",
        "message": None,
    }
    r = get(cloud, me.headers, f"/servers/{uid}/os-instance-actions", "2.58")
    last = r.json()["instanceActions"][-1]
    assert list(last) == [*SAMPLE_KEYS, "updated_at"]
    assert last["updated_at"] == "2026-11-23T20:58:16.000000"


def test_show_events_by_role_and_microversion(cloud: Cloud, bus: Bus, me: Who, boss: Who) -> None:
    uid = make_instance(cloud, me)
    rid = seed(cloud, me, uid, 1)[0]
    path = f"/servers/{uid}/os-instance-actions/{rid}"
    # Admins always see events, with the traceback.
    ev = get(cloud, boss.headers, path).json()["instanceAction"]["events"]
    assert ev == [
        {
            "event": "compute_reboot_instance",
            "start_time": "2026-11-23T20:58:15.000000",
            "finish_time": "2026-11-23T20:58:16.000000",
            "result": "Error",
            "traceback": "Traceback: boom",
        }
    ]
    # Users: no events before 2.51, events without traceback from it.
    shown = get(cloud, me.headers, path).json()["instanceAction"]
    assert "events" not in shown and shown["request_id"] == rid
    (ev,) = get(cloud, me.headers, path, "2.51").json()["instanceAction"]["events"]
    assert "traceback" not in ev and ev["result"] == "Error"
    # 2.62: hostId for all, host for admins; 2.84: details for admins.
    (ev,) = get(cloud, me.headers, path, "2.62").json()["instanceAction"]["events"]
    assert ev["hostId"] == hashlib.sha224((me.project_id + "h1").encode()).hexdigest()
    assert "host" not in ev
    (ev,) = get(cloud, boss.headers, path, "2.84").json()["instanceAction"]["events"]
    assert (ev["host"], ev["details"]) == ("h1", "boom")
    (ev,) = get(cloud, me.headers, path, "2.84").json()["instanceAction"]["events"]
    assert "details" not in ev


def test_not_found_cases(cloud: Cloud, bus: Bus, me: Who, boss: Who) -> None:
    uid = make_instance(cloud, me)
    r = get(cloud, me.headers, f"/servers/{uid}/os-instance-actions/req-nope")
    assert r.status_code == 404
    assert error(r) == ("itemNotFound", 404, "Action req-nope not found")
    theirs = make_instance(cloud, boss)
    assert get(cloud, me.headers, f"/servers/{theirs}/os-instance-actions").status_code == 404


def test_deleted_server_from_221(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = make_instance(cloud, me, states.ERROR, host=None)
    assert cloud.client.delete(f"{API}/servers/{uid}", headers=me.headers).status_code == 204
    path = f"/servers/{uid}/os-instance-actions"
    assert get(cloud, me.headers, path, "2.20").status_code == 404
    r = get(cloud, me.headers, path, "2.21")
    assert r.status_code == 200
    assert [a["action"] for a in r.json()["instanceActions"]] == ["delete"]


def test_paging_and_time_filters_from_258(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = make_instance(cloud, me)
    rids = seed(cloud, me, uid, 5)[::-1]  # newest first
    path = f"/servers/{uid}/os-instance-actions"
    r = get(cloud, me.headers, path, "2.58", limit=2)
    body = r.json()
    assert [a["request_id"] for a in body["instanceActions"]] == rids[:2]
    (link,) = body["links"]
    assert link["rel"] == "next" and f"marker={rids[1]}" in link["href"]
    r = get(cloud, me.headers, path, "2.58", limit=2, marker=rids[1])
    assert [a["request_id"] for a in r.json()["instanceActions"]] == rids[2:4]
    r = get(cloud, me.headers, path, "2.58", marker=rids[3])
    assert [a["request_id"] for a in r.json()["instanceActions"]] == rids[4:]
    assert "links" not in r.json()
    assert get(cloud, me.headers, path, "2.58", marker="req-nope").status_code == 400
    assert get(cloud, me.headers, path, "2.58", limit="x").status_code == 400
    # updated_at is start + 1 s: since the third action's update keeps the newest three.
    since = "2026-11-23T21:00:16Z"
    r = get(cloud, me.headers, path, "2.58", **{"changes-since": since})
    assert [a["request_id"] for a in r.json()["instanceActions"]] == rids[:3]
    before = "2026-11-23T20:59:16Z"
    r = get(cloud, me.headers, path, "2.66", **{"changes-before": before})
    assert [a["request_id"] for a in r.json()["instanceActions"]] == rids[3:]
    r = get(cloud, me.headers, path, "2.66", **{"changes-since": since, "changes-before": before})
    assert r.status_code == 400
    assert get(cloud, me.headers, path, "2.58", **{"changes-since": "yesterday"}).status_code == 400
    # Before 2.58 paging parameters are ignored.
    assert len(get(cloud, me.headers, path, limit=1).json()["instanceActions"]) == 5
