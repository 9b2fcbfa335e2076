"""POST /os-server-external-events: per-event codes (200 on a host, 404 unknown, 422 on
no host, 400 for a tagless event that needs one), 200 or 207 overall (never 404, as
Nova since its bug 1855752), names by microversion, the instance actions Nova records,
one cast per host, and who may call it (the service role or an admin)."""

from __future__ import annotations

import uuid
from typing import Any

from stackbox.compute.models import InstanceAction
from tests.compute.api.actions_helpers import Bus, Who, bus_fixture, make_instance
from tests.compute.api.conftest import Cloud, call, unique

__all__ = ["bus_fixture"]


def _post(cloud: Cloud, headers: dict, events: list[dict], version: str | None = None) -> Any:
    return call(cloud, "POST", "/os-server-external-events", headers, version,
                json={"events": events})  # fmt: skip


def _actions(cloud: Cloud, uid: str) -> list[str]:
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        rows = s.query(InstanceAction).filter_by(instance_uuid=uid).order_by(InstanceAction.id)
        return [r.action for r in rows]


def test_event_for_a_server_on_a_host_is_cast_there(
    cloud: Cloud, bus: Bus, boss: Who, me: Who
) -> None:
    uid = make_instance(cloud, me)
    r = _post(cloud, boss.headers, [{"name": "network-changed", "server_uuid": uid, "tag": "p1"}])
    assert r.status_code == 200, r.text
    assert r.json() == {"events": [{"name": "network-changed", "server_uuid": uid, "tag": "p1",
                                    "status": "completed", "code": 200}]}  # fmt: skip
    sent = bus.compute.wait("external_instance_event")
    assert sent["events"] == [
        {"name": "network-changed", "server_uuid": uid, "tag": "p1", "status": "completed"}
    ]
    assert _actions(cloud, uid) == []  # Nova records no action for network events


def test_mixed_results_are_207_and_all_unknown_too(
    cloud: Cloud, bus: Bus, boss: Who, me: Who
) -> None:
    on_host = make_instance(cloud, me)
    nowhere = make_instance(cloud, me, host=None)
    missing = str(uuid.uuid4())
    events = [
        {"name": "network-vif-plugged", "server_uuid": on_host, "status": "failed"},
        {"name": "network-vif-unplugged", "server_uuid": nowhere},
        {"name": "network-vif-deleted", "server_uuid": missing},
    ]
    r = _post(cloud, boss.headers, events)
    assert r.status_code == 207, r.text
    got = [(e["code"], e["status"]) for e in r.json()["events"]]
    assert got == [(200, "completed"), (422, "failed"), (404, "failed")]
    r = _post(cloud, boss.headers, [{"name": "network-changed", "server_uuid": missing}])
    assert r.status_code == 207 and r.json()["events"][0]["code"] == 404


def test_names_by_microversion_and_tags(cloud: Cloud, bus: Bus, boss: Who, me: Who) -> None:
    uid = make_instance(cloud, me)
    extend = {"name": "volume-extended", "server_uuid": uid, "tag": "vol-1"}
    assert _post(cloud, boss.headers, [extend], "2.50").status_code == 400
    assert _post(cloud, boss.headers, [extend], "2.51").status_code == 200
    power = {"name": "power-update", "server_uuid": uid, "tag": "POWER_OFF"}
    assert _post(cloud, boss.headers, [power], "2.75").status_code == 400
    assert _post(cloud, boss.headers, [power], "2.76").status_code == 200
    arq = {"name": "accelerator-request-bound", "server_uuid": uid}  # no tag: 400 for it
    r = _post(cloud, boss.headers, [arq], "2.82")
    assert r.status_code == 207 and r.json()["events"][0]["code"] == 400
    reimaged = {"name": "volume-reimaged", "server_uuid": uid}
    assert _post(cloud, boss.headers, [reimaged], "2.92").status_code == 400
    assert _post(cloud, boss.headers, [reimaged], "2.93").status_code == 200
    assert _actions(cloud, uid) == ["extend_volume", "stop"]


def test_bad_bodies_are_400(cloud: Cloud, bus: Bus, boss: Who, me: Who) -> None:
    uid = make_instance(cloud, me)
    for events in ([], [{"name": "network-changed"}], [{"name": "nope", "server_uuid": uid}],
                   [{"name": "network-changed", "server_uuid": "not-a-uuid"}],
                   [{"name": "network-changed", "server_uuid": uid, "status": "done"}],
                   [{"name": "network-changed", "server_uuid": uid, "extra": 1}]):  # fmt: skip
        assert _post(cloud, boss.headers, events).status_code == 400, events


def test_service_role_may_and_members_may_not(cloud: Cloud, bus: Bus, boss: Who, me: Who) -> None:
    uid = make_instance(cloud, me)
    event = [{"name": "network-changed", "server_uuid": uid}]
    r = _post(cloud, me.headers, event)
    assert r.status_code == 403
    assert "os-server-external-events:create" in r.json()["forbidden"]["message"]
    assert _post(cloud, _service_user(cloud, boss.headers), event).status_code == 200


def _service_user(cloud: Cloud, admin: dict) -> dict:
    """A token of a user with only the service role, in the service project."""
    ident = "/identity/v3"
    name, password = unique("svc"), "secret-pass"
    r = cloud.client.post(f"{ident}/users", headers=admin,
                          json={"user": {"name": name, "password": password}})  # fmt: skip
    user_id = r.json()["user"]["id"]
    role_id = cloud.client.get(f"{ident}/roles?name=service", headers=admin).json()["roles"][0][
        "id"
    ]
    project_id = cloud.client.get(f"{ident}/projects?name=service", headers=admin).json()[
        "projects"][0]["id"]  # fmt: skip
    r = cloud.client.put(f"{ident}/projects/{project_id}/users/{user_id}/roles/{role_id}",
                         headers=admin)  # fmt: skip
    assert r.status_code == 204, r.text
    return cloud.headers(cloud.token(name, password, project="service"))
