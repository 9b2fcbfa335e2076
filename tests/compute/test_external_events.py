"""The compute host's side of external events: with no handler yet for any of them
(networking and volumes come later), each is logged and handed back as unhandled."""

from __future__ import annotations

import asyncio

import pytest

from stackbox.compute import external_events


def test_events_without_a_handler_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    events = [
        {"name": "network-vif-plugged", "server_uuid": "u1", "status": "completed"},
        {"name": "volume-extended", "server_uuid": "u2", "status": "completed", "tag": "v"},
    ]
    with caplog.at_level("INFO", logger="stackbox.compute"):
        left = asyncio.run(external_events.dispatch(None, "cmp1", events))
    assert left == events
    assert "network-vif-plugged" in caplog.text and "for instance u2 on cmp1" in caplog.text
    assert caplog.text.count("nothing handles it yet") == 2


def test_a_handler_takes_its_event(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    async def plugged(ctx: object, event: dict) -> None:
        seen.append((ctx, event["server_uuid"]))

    monkeypatch.setitem(external_events.HANDLERS, "network-vif-plugged", plugged)
    event = {"name": "network-vif-plugged", "server_uuid": "u1", "status": "completed"}
    assert asyncio.run(external_events.dispatch("ctx", "cmp1", [event])) == []
    assert seen == [("ctx", "u1")]
