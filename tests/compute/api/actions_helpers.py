"""Helpers of the server action / delete / instance-action tests: instance rows made
directly in the database (an ACTIVE server on host "h1" needs no scheduler), and a
private started local bus with named recording fakes of a compute host and of the
conductor, so a test can assert what the API cast.

`bus` (a module fixture; import `bus_fixture`) swaps the cloud's bus for its own while
the module runs: no other test module's recorders compete for the conductor topic."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from stackbox import bus as sbbus
from stackbox.compute import states
from stackbox.compute.models import Flavor, Instance, InstanceAction
from tests.compute.api.conftest import Cloud, token_info

HOST = "h1"
API = "/compute/v2.1"


@dataclass
class Recorder:
    """A named fake endpoint: every method it is sent is recorded as (method, kwargs).
    `get_console_output` answers with `console` (a call needs a result)."""

    name: str
    calls: list[tuple[str, dict]] = field(default_factory=list)
    console: str = "FAKE CONSOLE OUTPUT\nANOTHER\x07\nLAST LINE"

    def get_console_output(self, **kw: Any) -> str:
        self.calls.append(("get_console_output", kw))
        return self.console

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)

        def record(**kw: Any) -> None:
            self.calls.append((method, kw))

        return record

    def wait(self, method: str, timeout: float = 5.0, **match: Any) -> dict:
        """The kwargs of the first `method` message whose kwargs include `match`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m, kw in list(self.calls):
                if m == method and _matches(kw, match):
                    return kw
            time.sleep(0.01)
        raise AssertionError(f"{self.name} never got {method} {match}: {self.calls}")

    def sent(self, method: str, **match: Any) -> list[dict]:
        return [kw for m, kw in list(self.calls) if m == method and _matches(kw, match)]


def _matches(kw: dict, match: dict) -> bool:
    for key, want in match.items():
        if key == "uuid":
            if (kw.get("instance") or {}).get("uuid", kw.get("instance_uuid")) != want:
                return False
        elif kw.get(key) != want:
            return False
    return True


@dataclass
class Bus:
    compute: Recorder
    conductor: Recorder


@pytest.fixture(scope="module", name="bus")
def bus_fixture(cloud: Cloud) -> Iterator[Bus]:
    """Import `bus_fixture` into a test module to use the `bus` fixture there."""
    state: Any = cloud.state
    portal = cloud.client.portal
    assert portal is not None, "the cloud's TestClient must be entered (with ...)"
    old = state.bus
    local = sbbus.connect("local://", default_timeout=5.0)
    portal.call(local.start)
    compute, conductor = Recorder("RecordingCompute"), Recorder("RecordingConductor")

    async def serve() -> None:
        await local.serve("compute", compute, host=HOST)
        await local.serve("conductor", conductor, host="c1")

    portal.call(serve)
    state.bus = local
    try:
        yield Bus(compute, conductor)
    finally:
        state.bus = old
        portal.call(local.stop)


def actions_of(cloud: Cloud, uid: str) -> list[str]:
    """The server's instance actions ("create", "stop", ...), oldest first."""
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        q = select(InstanceAction.action).where(InstanceAction.instance_uuid == uid)
        return list(s.scalars(q.order_by(InstanceAction.id)))


@dataclass
class Who:
    headers: dict
    project_id: str
    user_id: str


def who(cloud: Cloud, headers: dict) -> Who:
    tok = token_info(cloud, headers)
    return Who(headers, tok["project"]["id"], tok["user"]["id"])


def flavor_row(cloud: Cloud, **kw: Any) -> Flavor:
    fid = kw.pop("flavorid", uuid.uuid4().hex[:12])
    values = {"memory_mb": 512, "vcpus": 1, "root_gb": 1, **kw}
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        flv = Flavor(flavorid=fid, name=f"f-{fid}", **values)
        s.add(flv)
        s.flush()
        s.refresh(flv)
        return flv


def flavor_json(flv: Flavor | None = None) -> dict:
    if flv is None:
        return {
            "flavorid": "1",
            "name": "m1.tiny",
            "memory_mb": 512,
            "vcpus": 1,
            "root_gb": 1,
            "ephemeral_gb": 0,
            "swap": 0,
            "rxtx_factor": 1.0,
            "extra_specs": {},
            "description": None,
        }
    return {
        "flavorid": flv.flavorid,
        "name": flv.name,
        "memory_mb": flv.memory_mb,
        "vcpus": flv.vcpus,
        "root_gb": flv.root_gb,
        "ephemeral_gb": flv.ephemeral_gb or 0,
        "swap": flv.swap or 0,
        "rxtx_factor": flv.rxtx_factor,
        "extra_specs": {},
        "description": None,
    }


def make_instance(
    cloud: Cloud,
    owner: Who,
    vm_state: str = states.ACTIVE,
    task_state: str | None = None,
    host: str | None = HOST,
    **kw: Any,
) -> str:
    """An instance row as a finished boot leaves it (or as `kw` says); its uuid."""
    uid = str(uuid.uuid4())
    values: dict[str, Any] = {
        "uuid": uid,
        "display_name": f"vm-{uid[:8]}",
        "hostname": f"vm-{uid[:8]}",
        "project_id": owner.project_id,
        "user_id": owner.user_id,
        "image_ref": None,
        "flavor": flavor_json(),
        "image_meta": {"id": None, "min_ram": 0, "min_disk": 0, "properties": {}},
        "vm_state": vm_state,
        "task_state": task_state,
        "power_state": states.RUNNING if vm_state == states.ACTIVE else states.SHUTDOWN,
        "host": host,
        "node": host,
        "reservation_id": "r-abcdefgh",
        **kw,
    }
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        s.add(Instance(**values))
    return uid


def instance(cloud: Cloud, uid: str) -> Instance:
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        inst = s.query(Instance).filter_by(uuid=uid).one()
        s.expunge(inst)
        return inst


def act(cloud: Cloud, headers: dict, uid: str, body: Any, version: str | None = None) -> Any:
    h = dict(headers)
    if version:
        h["OpenStack-API-Version"] = f"compute {version}"
    return cloud.client.post(f"{API}/servers/{uid}/action", json=body, headers=h)


def error(r: Any) -> tuple[str, int, str]:
    ((name, err),) = r.json().items()
    return name, err["code"], err["message"]
