"""POST /servers/{id}/action rescue and unrescue: Nova's 200 with adminPass (none when
[api] enable_instance_password is off), the states each may run in (409 otherwise),
the lock, the rescue image (400 when missing), volume-backed servers (400), policy,
and what is cast to the compute host."""

from __future__ import annotations

import uuid

import pytest

from stackbox.compute import states
from stackbox.compute.models import Instance
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
from tests.compute.api.images_helpers import new_image

IMAGE = str(uuid.uuid4())


def booted(cloud: Cloud, who: Who, vm: str = states.ACTIVE, **kw: object) -> str:
    """A server booted from an image (`image_ref` set), as a finished boot leaves it."""
    kw.setdefault("image_ref", IMAGE)
    kw.setdefault("image_meta", {"id": IMAGE, "properties": {}})
    return make_instance(cloud, who, vm, **kw)


@pytest.mark.parametrize("vm", [states.ACTIVE, states.STOPPED, states.ERROR])
def test_rescue_answers_200_with_the_password_and_casts(
    cloud: Cloud, bus: Bus, me: Who, vm: str
) -> None:
    uid = booted(cloud, me, vm)
    r = act(cloud, me.headers, uid, {"rescue": {"adminPass": "s3cret"}})
    assert r.status_code == 200, r.text
    assert r.json() == {"adminPass": "s3cret"}
    assert instance(cloud, uid).task_state == states.RESCUING
    sent = bus.compute.wait("rescue_instance", uuid=uid)
    assert sent["rescue_password"] == "s3cret"
    assert sent["rescue_image"] is None  # the server's own image
    assert sent["request_id"] == r.headers["x-openstack-request-id"]
    shown = cloud.client.get(f"/compute/v2.1/servers/{uid}", headers=me.headers).json()
    assert shown["server"]["OS-EXT-STS:task_state"] == "rescuing"


def test_rescue_with_a_null_body_generates_a_password(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = booted(cloud, me)
    r = act(cloud, me.headers, uid, {"rescue": None})
    assert r.status_code == 200, r.text
    password = r.json()["adminPass"]
    assert len(password) >= 8
    assert bus.compute.wait("rescue_instance", uuid=uid)["rescue_password"] == password


def test_no_password_in_the_answer_when_instance_passwords_are_off(
    cloud: Cloud, bus: Bus, me: Who
) -> None:
    cfg = cloud.state.cfg  # type: ignore[attr-defined]
    cfg.set("api", "enable_instance_password", False)
    try:
        r = act(cloud, me.headers, booted(cloud, me), {"rescue": None})
    finally:
        cfg.set("api", "enable_instance_password", True)
    assert (r.status_code, r.json()) == (200, {})


def test_rescue_image_ref_is_sent_as_the_image_copy(
    cloud: Cloud, bus: Bus, me: Who, demo: dict
) -> None:
    img = new_image(cloud, demo, name="rescue-img", disk_format="raw", container_format="bare")
    uid = booted(cloud, me)
    r = act(cloud, me.headers, uid, {"rescue": {"rescue_image_ref": img["id"]}})
    assert r.status_code == 200, r.text
    sent = bus.compute.wait("rescue_instance", uuid=uid)
    assert sent["rescue_image"]["id"] == img["id"]
    assert sent["rescue_image"]["disk_format"] == "raw"


def test_a_missing_rescue_image_is_400(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = booted(cloud, me)
    missing = str(uuid.uuid4())
    r = act(cloud, me.headers, uid, {"rescue": {"rescue_image_ref": missing}})
    assert r.status_code == 400, r.text
    assert error(r)[2] == f"Requested rescue image '{missing}' is not supported"
    assert instance(cloud, uid).task_state is None


@pytest.mark.parametrize(
    "body",
    [
        {"rescue": {"rescue_image_ref": "not-a-uuid"}},
        {"rescue": {"adminPass": 5}},
        {"rescue": {"other": "x"}},
        {"rescue": "yes"},
    ],
)
def test_bad_bodies_are_400(cloud: Cloud, bus: Bus, me: Who, body: dict) -> None:
    r = act(cloud, me.headers, booted(cloud, me), body)
    assert r.status_code == 400, r.text


@pytest.mark.parametrize("version", ["2.1", "2.87"])
def test_a_volume_backed_server_cannot_be_rescued(
    cloud: Cloud, bus: Bus, me: Who, version: str
) -> None:
    uid = make_instance(cloud, me)  # no image_ref: booted from a volume
    r = act(cloud, me.headers, uid, {"rescue": None}, version=version)
    assert r.status_code == 400, r.text
    assert error(r)[2] == (
        f"Instance {uid} cannot be rescued: Cannot rescue a volume-backed instance"
    )
    assert instance(cloud, uid).task_state is None


@pytest.mark.parametrize(
    ("vm", "task"),
    [
        (states.PAUSED, None),
        (states.SUSPENDED, None),
        (states.RESCUED, None),
        (states.SHELVED, None),
        (states.ACTIVE, states.POWERING_OFF),
    ],
)
def test_rescue_in_other_states_is_409(
    cloud: Cloud, bus: Bus, me: Who, vm: str, task: str | None
) -> None:
    uid = booted(cloud, me, vm, task_state=task)
    r = act(cloud, me.headers, uid, {"rescue": None})
    assert r.status_code == 409, r.text
    attr, state = ("task_state", task) if task else ("vm_state", vm)
    assert error(r)[2] == f"Cannot 'rescue' instance {uid} while it is in {attr} {state}"


def test_a_locked_server_is_409_for_its_owner(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = booted(cloud, me, locked=True, locked_by="admin")
    r = act(cloud, me.headers, uid, {"rescue": None})
    assert r.status_code == 409, r.text
    assert error(r)[2] == f"Instance {uid} is locked"
    uid = booted(cloud, me, states.RESCUED, locked=True, locked_by="admin")
    assert act(cloud, me.headers, uid, {"unrescue": None}).status_code == 409


def test_unrescue_answers_202_and_casts(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = booted(cloud, me, states.RESCUED)
    r = act(cloud, me.headers, uid, {"unrescue": None})
    assert r.status_code == 202, r.text
    assert r.content == b""
    assert instance(cloud, uid).task_state == states.UNRESCUING
    sent = bus.compute.wait("unrescue_instance", uuid=uid)
    assert sent["request_id"] == r.headers["x-openstack-request-id"]


@pytest.mark.parametrize("vm", [states.ACTIVE, states.STOPPED, states.ERROR])
def test_unrescue_outside_rescued_is_409(cloud: Cloud, bus: Bus, me: Who, vm: str) -> None:
    uid = booted(cloud, me, vm)
    r = act(cloud, me.headers, uid, {"unrescue": None})
    assert r.status_code == 409, r.text
    assert error(r)[2] == f"Cannot 'unrescue' instance {uid} while it is in vm_state {vm}"


@pytest.mark.parametrize(
    "body", [{"reboot": {"type": "HARD"}}, {"os-stop": None}, {"rebuild": {"imageRef": IMAGE}}]
)
def test_a_rescued_server_refuses_other_actions(
    cloud: Cloud, bus: Bus, me: Who, body: dict
) -> None:
    uid = booted(cloud, me, states.RESCUED)
    r = act(cloud, me.headers, uid, body)
    assert r.status_code == 409, r.text
    assert "while it is in vm_state rescued" in error(r)[2]


def test_rescued_status_is_RESCUE(cloud: Cloud, me: Who) -> None:
    uid = booted(cloud, me, states.RESCUED)
    shown = cloud.client.get(f"/compute/v2.1/servers/{uid}", headers=me.headers).json()
    assert shown["server"]["status"] == "RESCUE"
    listed = cloud.client.get(
        "/compute/v2.1/servers/detail?status=RESCUE", headers=me.headers
    ).json()
    assert uid in [s["id"] for s in listed["servers"]]


def test_an_admin_rescues_a_locked_server_and_actions_are_recorded(
    cloud: Cloud, bus: Bus, me: Who, boss: Who
) -> None:
    uid = booted(cloud, me, locked=True, locked_by="owner")
    assert act(cloud, boss.headers, uid, {"rescue": None}).status_code == 200
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        s.query(Instance).filter_by(uuid=uid).update({"vm_state": "rescued", "task_state": None})
    assert act(cloud, boss.headers, uid, {"unrescue": None}).status_code == 202
    assert actions_of(cloud, uid) == ["rescue", "unrescue"]


def test_other_projects_get_404(cloud: Cloud, bus: Bus, me: Who, boss: Who) -> None:
    uid = booted(cloud, boss)
    r = act(cloud, me.headers, uid, {"rescue": None})
    assert r.status_code == 404, r.text
