"""POST /servers/{id}/action: each action's 202 and task_state, Nova's 409s, locks,
policy, images made by createImage/shelve, and the race of two concurrent actions."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from stackbox.compute import states
from tests.compute.api.actions_helpers import (
    Bus,
    Who,
    act,
    actions_of,
    bus_fixture,  # noqa: F401  (the `bus` fixture)
    error,
    instance,
    make_instance,
)
from tests.compute.api.conftest import Cloud

SIMPLE = [
    ("os-stop", states.ACTIVE, states.POWERING_OFF, "stop_instance", "stop"),
    ("os-start", states.STOPPED, states.POWERING_ON, "start_instance", "start"),
    ("pause", states.ACTIVE, states.PAUSING, "pause_instance", "pause"),
    ("unpause", states.PAUSED, states.UNPAUSING, "unpause_instance", "unpause"),
    ("suspend", states.ACTIVE, states.SUSPENDING, "suspend_instance", "suspend"),
    ("resume", states.SUSPENDED, states.RESUMING, "resume_instance", "resume"),
]


@pytest.mark.parametrize(("key", "vm", "task", "method", "action"), SIMPLE)
def test_simple_action_sets_task_casts_and_records(
    cloud: Cloud, bus: Bus, me: Who, key: str, vm: str, task: str, method: str, action: str
) -> None:
    uid = make_instance(cloud, me, vm)
    r = act(cloud, me.headers, uid, {key: None})
    assert r.status_code == 202, r.text
    assert r.content == b""
    assert instance(cloud, uid).task_state == task
    rid = r.headers["x-openstack-request-id"]
    sent = bus.compute.wait(method, uuid=uid)
    assert sent["request_id"] == rid
    assert sent["instance"]["task_state"] == task
    assert actions_of(cloud, uid) == [action]


@pytest.mark.parametrize(
    ("body", "vm", "task", "text"),
    [
        (
            {"os-start": None},
            states.ACTIVE,
            None,
            "Cannot 'start' instance {} while it is in vm_state active",
        ),
        (
            {"os-stop": None},
            states.STOPPED,
            None,
            "Cannot 'stop' instance {} while it is in vm_state stopped",
        ),
        (
            {"os-stop": None},
            states.ACTIVE,
            states.POWERING_OFF,
            "Cannot 'stop' instance {} while it is in task_state powering-off",
        ),
        (
            {"pause": None},
            states.PAUSED,
            None,
            "Cannot 'pause' instance {} while it is in vm_state paused",
        ),
        (
            {"resume": None},
            states.ACTIVE,
            None,
            "Cannot 'resume' instance {} while it is in vm_state active",
        ),
        (
            {"reboot": {"type": "SOFT"}},
            states.STOPPED,
            None,
            "Cannot 'reboot' instance {} while it is in vm_state stopped",
        ),
        (
            {"confirmResize": None},
            states.ACTIVE,
            None,
            "Cannot 'confirmResize' instance {} while it is in vm_state active",
        ),
        (
            {"createImage": {"name": "snap"}},
            states.ACTIVE,
            states.REBOOTING,
            "Cannot 'createImage' instance {} while it is in task_state rebooting",
        ),
        (
            {"unshelve": None},
            states.ACTIVE,
            None,
            "Cannot 'unshelve' instance {} while it is in vm_state active",
        ),
    ],
)
def test_wrong_state_is_409_with_novas_text(
    cloud: Cloud, bus: Bus, me: Who, body: dict, vm: str, task: str | None, text: str
) -> None:
    uid = make_instance(cloud, me, vm, task)
    r = act(cloud, me.headers, uid, body)
    assert r.status_code == 409, r.text
    assert error(r) == ("conflictingRequest", 409, text.format(uid))
    assert instance(cloud, uid).task_state == task  # unchanged
    assert actions_of(cloud, uid) == []


def test_stop_twice_second_is_409(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = make_instance(cloud, me)
    assert act(cloud, me.headers, uid, {"os-stop": None}).status_code == 202
    r = act(cloud, me.headers, uid, {"os-stop": None})
    assert r.status_code == 409
    assert error(r)[2] == f"Cannot 'stop' instance {uid} while it is in task_state powering-off"


def test_reboot_soft_and_hard(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = make_instance(cloud, me)
    r = act(cloud, me.headers, uid, {"reboot": {"type": "SOFT"}})
    assert r.status_code == 202, r.text
    assert instance(cloud, uid).task_state == states.REBOOTING
    assert bus.compute.wait("reboot_instance", uuid=uid)["reboot_type"] == "SOFT"
    # A hard reboot may interrupt a soft one; a soft one may not.
    assert act(cloud, me.headers, uid, {"reboot": {"type": "SOFT"}}).status_code == 409
    r = act(cloud, me.headers, uid, {"reboot": {"type": "Hard"}})
    assert r.status_code == 202, r.text
    assert instance(cloud, uid).task_state == states.REBOOTING_HARD
    stopped = make_instance(cloud, me, states.STOPPED)
    assert act(cloud, me.headers, stopped, {"reboot": {"type": "HARD"}}).status_code == 202
    assert bus.compute.wait("reboot_instance", uuid=stopped)["reboot_type"] == "HARD"
    assert actions_of(cloud, uid) == ["reboot", "reboot"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"os-stop": None, "os-start": None},
        {"os-fly": None},
        {"reboot": {"type": "gentle"}},
        {"reboot": {}},
        {"createImage": {}},
        {"createImage": {"name": " padded "}},
        {"os-resetState": {"state": "building"}},
        {"os-getConsoleOutput": {"length": "ten"}},
        {"resize": {}},
        {"rebuild": {"name": "x"}},
    ],
)
def test_bad_bodies_are_400(cloud: Cloud, bus: Bus, me: Who, body: Any) -> None:
    uid = make_instance(cloud, me)
    r = act(cloud, me.headers, uid, body)
    assert r.status_code == 400, r.text
    assert error(r)[0] == "badRequest"
    assert instance(cloud, uid).task_state is None


def test_other_projects_server_is_404_and_unknown_is_404(
    cloud: Cloud, bus: Bus, me: Who, boss: Who
) -> None:
    theirs = make_instance(cloud, boss)
    r = act(cloud, me.headers, theirs, {"os-stop": None})
    assert r.status_code == 404
    assert error(r) == ("itemNotFound", 404, f"Instance {theirs} could not be found.")
    assert instance(cloud, theirs).task_state is None
    missing = str(uuid.uuid4())
    assert act(cloud, me.headers, missing, {"os-stop": None}).status_code == 404
    # Admins act on any project's server.
    mine = make_instance(cloud, me)
    assert act(cloud, boss.headers, mine, {"os-stop": None}).status_code == 202


def test_lock_blocks_owner_actions_not_admins(cloud: Cloud, bus: Bus, me: Who, boss: Who) -> None:
    uid = make_instance(cloud, me)
    r = act(cloud, me.headers, uid, {"lock": {"locked_reason": "careful"}}, "2.73")
    assert r.status_code == 202, r.text
    row = instance(cloud, uid)
    assert (row.locked, row.locked_by, row.locked_reason) == (True, "owner", "careful")
    r = act(cloud, me.headers, uid, {"os-stop": None})
    assert r.status_code == 409
    assert error(r)[2] == f"Instance {uid} is locked"
    assert (
        cloud.client.delete(f"/compute/v2.1/servers/{uid}", headers=me.headers).status_code == 409
    )
    # The owner can lift their own lock; an admin is not stopped by it.
    assert act(cloud, me.headers, uid, {"unlock": None}).status_code == 202
    assert instance(cloud, uid).locked is False
    assert act(cloud, me.headers, uid, {"lock": None}).status_code == 202
    assert act(cloud, boss.headers, uid, {"os-stop": None}).status_code == 202
    assert actions_of(cloud, uid) == ["lock", "unlock", "lock", "stop"]


def test_owner_cannot_unlock_an_admins_lock(cloud: Cloud, bus: Bus, me: Who, boss: Who) -> None:
    uid = make_instance(cloud, me)
    assert act(cloud, boss.headers, uid, {"lock": None}).status_code == 202
    assert instance(cloud, uid).locked_by == "admin"
    r = act(cloud, me.headers, uid, {"unlock": None})
    assert r.status_code == 403
    assert error(r)[0] == "forbidden"
    assert instance(cloud, uid).locked is True
    assert act(cloud, boss.headers, uid, {"unlock": None}).status_code == 202
    assert instance(cloud, uid).locked is False


def test_reset_state_is_admin_only(cloud: Cloud, bus: Bus, me: Who, boss: Who) -> None:
    uid = make_instance(cloud, me, states.ACTIVE, states.POWERING_OFF)
    r = act(cloud, me.headers, uid, {"os-resetState": {"state": "error"}})
    assert r.status_code == 403
    assert instance(cloud, uid).vm_state == states.ACTIVE
    r = act(cloud, boss.headers, uid, {"os-resetState": {"state": "error"}})
    assert r.status_code == 202, r.text
    row = instance(cloud, uid)
    assert (row.vm_state, row.task_state) == (states.ERROR, None)
    assert act(cloud, boss.headers, uid, {"os-resetState": {"state": "active"}}).status_code == 202
    assert instance(cloud, uid).vm_state == states.ACTIVE
    assert bus.compute.sent("stop_instance", uuid=uid) == []  # no cast


def test_console_output(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = make_instance(cloud, me)
    r = act(cloud, me.headers, uid, {"os-getConsoleOutput": {"length": 50}})
    assert r.status_code == 200, r.text
    assert r.json() == {"output": "FAKE CONSOLE OUTPUT\nANOTHER\nLAST LINE"}
    assert bus.compute.wait("get_console_output", uuid=uid)["length"] == 50
    r = act(cloud, me.headers, uid, {"os-getConsoleOutput": {"length": "-1"}})
    assert r.status_code == 200
    assert bus.compute.sent("get_console_output", uuid=uid)[-1]["length"] is None
    unplaced = make_instance(cloud, me, states.BUILDING, states.SCHEDULING, host=None)
    r = act(cloud, me.headers, unplaced, {"os-getConsoleOutput": None})
    assert r.status_code == 409
    assert error(r)[2] == f"Instance {unplaced} is not ready"


def _race(n: int, fn: Callable[[], int]) -> list[int]:
    """Run `fn` in n threads released at the same moment; their results."""
    barrier = threading.Barrier(n)
    out: list[int] = []

    def run() -> None:
        barrier.wait()
        out.append(fn())

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_two_concurrent_stops_one_wins(cloud: Cloud, bus: Bus, me: Who) -> None:
    for _ in range(3):
        uid = make_instance(cloud, me)

        def stop(uid: str = uid) -> int:
            return int(act(cloud, me.headers, uid, {"os-stop": None}).status_code)

        codes = _race(2, stop)
        assert sorted(codes) == [202, 409]
        assert actions_of(cloud, uid) == ["stop"]
        bus.compute.wait("stop_instance", uuid=uid)
        assert len(bus.compute.sent("stop_instance", uuid=uid)) == 1
