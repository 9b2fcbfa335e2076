"""Personality files on POST /servers: accepted before 2.57 and carried by the build
cast (not stored), refused by the schema from 2.57, Nova's 400 for contents that are not
base64 and its 403s past the three injected-file limits."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.compute.api.servers_helpers import Srv, srv_fixture  # noqa: F401


def _file(path: str, content: bytes) -> dict[str, str]:
    return {"path": path, "contents": base64.b64encode(content).decode()}


def _message(r: Any) -> str:
    ((_, err),) = r.json().items()
    return str(err["message"])


@pytest.mark.parametrize("mv", [None, "2.56"])
def test_create_casts_the_files_before_2_57(srv: Srv, mv: str | None) -> None:
    files = [_file("/etc/motd", b"hello\n"), _file("/root/.ssh/x", b"\x00\xff")]
    extra = {"networks": "none"} if mv else {}  # required from 2.37
    sid = srv.boot(mv=mv, personality=files, **extra)
    build = srv.conductor.wait_for(sid)
    assert build["injected_files"] == files
    row = srv.get(f"/servers/{sid}", who=srv.admin).json()["server"]
    assert "personality" not in row


def test_create_without_personality_casts_none(srv: Srv) -> None:
    sid = srv.boot()
    assert srv.conductor.wait_for(sid)["injected_files"] is None


def test_create_refuses_personality_from_2_57(srv: Srv) -> None:
    r = srv.post(srv.body(personality=[_file("/a", b"x")], networks="none"), mv="2.57")
    assert r.status_code == 400
    assert "personality" in _message(r)


def test_create_refuses_contents_that_are_not_base64(srv: Srv) -> None:
    r = srv.post(srv.body(personality=[{"path": "/etc/a", "contents": "%%% not base64"}]))
    assert r.status_code == 400
    assert _message(r) == "Personality content for /etc/a cannot be decoded"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([_file(f"/f{i}", b"x") for i in range(6)], "Personality file limit exceeded"),
        ([_file("/" + "p" * 255, b"x")], "Personality file path exceeds maximum 255"),
        ([_file("/a", b"x" * 10241)], "Personality file content exceeds maximum 10240"),
    ],
)
def test_create_past_a_limit_is_403(srv: Srv, files: list[dict[str, str]], message: str) -> None:
    r = srv.post(srv.body(personality=files))
    assert r.status_code == 403, r.text
    assert _message(r) == message


def test_create_at_the_limits_is_accepted(srv: Srv) -> None:
    files = [_file(f"/f{i}", b"x") for i in range(4)]
    files.append(_file("/" + "p" * 254, b"x" * 10240))
    sid = srv.boot(personality=files)
    assert len(srv.conductor.wait_for(sid)["injected_files"]) == 5
