"""The bodies POST /servers/{id}/action accepts, as Nova does: an action without
parameters takes `null` (the openstack CLI) and `{}` (Tempest, gophercloud); lock's and
unshelve's values by microversion; and Nova's order of checks (the body's action and
schema first, then the server: 400 for a bad body, 404 for a good one on a missing
server)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from stackbox.compute import states
from tests.compute.api.actions_helpers import (
    Bus,
    Who,
    act,
    bus_fixture,  # noqa: F401  (the `bus` fixture)
    error,
    instance,
    make_instance,
)
from tests.compute.api.conftest import Cloud

# body key -> the vm_state it runs from (every action that takes no parameters)
PARAMETERLESS = {
    "os-stop": states.ACTIVE,
    "os-start": states.STOPPED,
    "pause": states.ACTIVE,
    "unpause": states.PAUSED,
    "suspend": states.ACTIVE,
    "resume": states.SUSPENDED,
    "lock": states.ACTIVE,
    "unlock": states.ACTIVE,
    "shelve": states.ACTIVE,
    "shelveOffload": states.SHELVED,
    "unshelve": states.SHELVED,
    "confirmResize": states.RESIZED,
    "revertResize": states.RESIZED,
}

# Nova's (and Tempest's) status of the actions that are not 202.
STATUS = {"confirmResize": 204}


@pytest.mark.parametrize("value", [None, {}], ids=["null", "empty-object"])
@pytest.mark.parametrize("key", sorted(PARAMETERLESS))
def test_parameterless_actions_take_null_and_empty_object(
    cloud: Cloud, bus: Bus, me: Who, boss: Who, key: str, value: Any
) -> None:
    uid = make_instance(cloud, me, PARAMETERLESS[key])
    r = act(cloud, boss.headers, uid, {key: value})  # the admin: shelveOffload is theirs
    assert r.status_code == STATUS.get(key, 202), r.text
    assert r.content == b""


@pytest.mark.parametrize("key", sorted(PARAMETERLESS))
def test_action_on_a_missing_server_is_404(cloud: Cloud, bus: Bus, me: Who, key: str) -> None:
    missing = str(uuid.uuid4())
    r = act(cloud, me.headers, missing, {key: {}})
    assert r.status_code == 404, r.text
    assert error(r) == ("itemNotFound", 404, f"Instance {missing} could not be found.")


def test_bad_body_is_400_before_the_server_is_looked_up(cloud: Cloud, bus: Bus, me: Who) -> None:
    # Nova validates the body (and finds the action) before it looks the server up.
    missing = str(uuid.uuid4())
    for body in ({"os-fly": None}, {"reboot": {}}, {"resize": {"flavorRef": ""}}):
        r = act(cloud, me.headers, missing, body)
        assert r.status_code == 400, (body, r.text)
        assert error(r)[0] == "badRequest"


def test_lock_value_by_microversion(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = make_instance(cloud, me)
    # Before 2.73 the value is ignored, a reason included.
    assert act(cloud, me.headers, uid, {"lock": {"locked_reason": "x"}}).status_code == 202
    assert instance(cloud, uid).locked_reason is None
    for value in (None, {}, {"locked_reason": "maintenance"}):
        assert act(cloud, me.headers, uid, {"unlock": {}}).status_code == 202
        assert act(cloud, me.headers, uid, {"lock": value}, "2.73").status_code == 202
    assert instance(cloud, uid).locked_reason == "maintenance"
    for value in ({"locked_reason": ""}, {"why": "x"}, "soon"):
        r = act(cloud, me.headers, uid, {"lock": value}, "2.73")
        assert r.status_code == 400, (value, r.text)


def test_unshelve_value_by_microversion(cloud: Cloud, bus: Bus, me: Who) -> None:
    # Before 2.77 the value means nothing: a zone is not looked at.
    off = make_instance(cloud, me, states.SHELVED_OFFLOADED, availability_zone="nova")
    r = act(cloud, me.headers, off, {"unshelve": {"availability_zone": "atlantis"}})
    assert r.status_code == 202, r.text
    assert instance(cloud, off).availability_zone == "nova"
    # 2.77 to 2.90: null, or an object naming the zone ({} is refused, as in Nova).
    shelved = make_instance(cloud, me, states.SHELVED)
    assert act(cloud, me.headers, shelved, {"unshelve": {}}, "2.77").status_code == 400
    assert act(cloud, me.headers, shelved, {"unshelve": None}, "2.77").status_code == 202
    # From 2.91 {} is a plain unshelve again.
    shelved = make_instance(cloud, me, states.SHELVED)
    r = act(cloud, me.headers, shelved, {"unshelve": {}}, "2.91")
    assert r.status_code == 202, r.text
    assert instance(cloud, shelved).task_state == states.UNSHELVING
