"""`states.ALLOWED` fails closed: every name the API's action handlers check has an
entry (found by driving every action of the dispatcher, and a server delete, while
recording what the table is asked), and an action without one is a 409."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from stackbox.compute import states
from stackbox.compute.api.server_actions import ACTIONS
from tests.compute.api.actions_helpers import (
    API,
    Bus,
    Who,
    act,
    bus_fixture,  # noqa: F401  (the `bus` fixture)
    error,
    instance,
    make_instance,
)
from tests.compute.api.conftest import Cloud

# A body for every action of the dispatcher: a new action fails the walk until it is
# given one here. Each body passes the action's schema, so its handler runs.
BODIES: dict[str, list[Any]] = {
    "os-stop": [None],
    "os-start": [None],
    "pause": [None],
    "unpause": [None],
    "suspend": [None],
    "resume": [None],
    "reboot": [{"type": "SOFT"}, {"type": "HARD"}],
    "lock": [None],
    "unlock": [None],
    "os-resetState": [{"state": "active"}],
    "os-getConsoleOutput": [{"length": 5}],
    "createImage": [{"name": "snap"}],
    "shelve": [None],
    "shelveOffload": [None],
    "unshelve": [None],
    "resize": [{"flavorRef": "1"}],
    "confirmResize": [None],
    "revertResize": [None],
    "rebuild": [{"imageRef": str(uuid.uuid4())}],
    "createBackup": [{"name": "b", "backup_type": "daily", "rotation": 1}],
    "restore": [None],
    "forceDelete": [None],
    "rescue": [None, {"adminPass": "pw", "rescue_image_ref": str(uuid.uuid4())}],
    "unrescue": [None],
}
# Actions whose handlers check no vm_state, so never ask the table.
ASK_NOTHING = {"lock", "unlock", "os-resetState", "os-getConsoleOutput"}


class RecordingRules(dict):
    """states.ALLOWED, noting every action name it is asked about."""

    def __init__(self, table: dict[str, tuple[str, ...]]) -> None:
        super().__init__(table)
        self.asked: list[str] = []

    def get(self, key: Any, default: Any = None) -> Any:
        self.asked.append(key)
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        self.asked.append(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.asked.append(str(key))
        return super().__contains__(key)


@pytest.fixture
def rules(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingRules]:
    recording = RecordingRules(dict(states.ALLOWED))
    monkeypatch.setattr(states, "ALLOWED", recording)
    yield recording


def test_every_action_the_api_checks_has_a_rule(
    cloud: Cloud, bus: Bus, me: Who, boss: Who, rules: RecordingRules
) -> None:
    assert set(BODIES) == set(ACTIONS), "give every action of server_actions a body here"
    asked_by: dict[str, set[str]] = {}
    for key, bodies in BODIES.items():
        for value in bodies:
            del rules.asked[:]
            uid = make_instance(cloud, me)
            r = act(cloud, boss.headers, uid, {key: value})
            assert r.status_code < 500, (key, r.text)
            if r.status_code == 409:
                assert "no rule says" not in error(r)[2], (key, r.text)
            asked_by.setdefault(key, set()).update(rules.asked)
    del rules.asked[:]
    uid = make_instance(cloud, me)
    r = cloud.client.delete(f"{API}/servers/{uid}", headers=boss.headers)
    assert r.status_code == 204, r.text
    asked_by["DELETE"] = set(rules.asked)
    for key, asked in asked_by.items():
        assert asked <= set(states.ALLOWED), (key, asked - set(states.ALLOWED))
        if key in BODIES and key not in ASK_NOTHING:
            assert asked, f"{key} never asked states.ALLOWED"


def test_an_action_without_a_rule_is_409(
    cloud: Cloud, bus: Bus, me: Who, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        states, "ALLOWED", {k: v for k, v in states.ALLOWED.items() if k != "pause"}
    )
    uid = make_instance(cloud, me)
    r = act(cloud, me.headers, uid, {"pause": None})
    assert r.status_code == 409, r.text
    name, code, message = error(r)
    assert (name, code) == ("conflictingRequest", 409)
    assert message == f"Cannot 'pause' instance {uid}: no rule says in which states it may run"
    assert instance(cloud, uid).task_state is None
