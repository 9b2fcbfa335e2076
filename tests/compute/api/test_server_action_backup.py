"""createBackup: the queued backup image the Image service makes for it (Nova's backup
properties), the cast with backup_type and rotation, the answer per microversion, and
Nova's 400s and 409s."""

from __future__ import annotations

import pytest

from stackbox.compute import states
from stackbox.image.models import Image
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


def backup(name: str = "b1", **kw: object) -> dict:
    return {"createBackup": {"name": name, "backup_type": "daily", "rotation": 2, **kw}}


def image(cloud: Cloud, image_id: str) -> tuple[Image, dict[str, str]]:
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        img = s.get(Image, image_id)
        assert img is not None
        props = {p.name: p.value for p in img.properties}
        s.expunge(img)
        return img, props


def test_backup_before_245_gives_a_location(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = make_instance(cloud, me, image_ref="0f6c1a52-0000-4000-8000-000000000001")
    r = act(cloud, me.headers, uid, backup(metadata={"k": "v"}))
    assert r.status_code == 202, r.text
    assert r.content == b""
    location = r.headers["Location"]
    image_id = location.rsplit("/", 1)[1]
    assert location.endswith(f"/compute/v2.1/images/{image_id}")
    img, props = image(cloud, image_id)
    assert (img.name, img.status, img.visibility, img.owner) == (
        "b1",
        "queued",
        "private",
        me.project_id,
    )
    assert props["image_type"] == "backup"
    assert props["backup_type"] == "daily"
    assert props["instance_uuid"] == uid
    assert props["k"] == "v"
    assert instance(cloud, uid).task_state == states.IMAGE_BACKUP
    sent = bus.compute.wait("backup_instance", uuid=uid)
    assert (sent["image_id"], sent["backup_type"], sent["rotation"]) == (image_id, "daily", 2)


def test_backup_at_245_answers_the_image_id(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = make_instance(cloud, me)
    r = act(cloud, me.headers, uid, backup(rotation="0"), version="2.45")
    assert r.status_code == 202, r.text
    assert "Location" not in r.headers
    image_id = r.json()["image_id"]
    assert image(cloud, image_id)[1]["image_type"] == "backup"
    assert bus.compute.wait("backup_instance", uuid=uid)["rotation"] == 0


def test_backup_with_rotation_0_has_no_location(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = make_instance(cloud, me)
    r = act(cloud, me.headers, uid, backup(rotation=0))
    assert r.status_code == 202, r.text
    assert "Location" not in r.headers
    bus.compute.wait("backup_instance", uuid=uid, rotation=0)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "b", "backup_type": "daily"},  # no rotation
        {"name": "b", "rotation": 1},  # no backup_type
        {"backup_type": "daily", "rotation": 1},  # no name
        {"name": "b", "backup_type": "daily", "rotation": -1},
        {"name": "b", "backup_type": "daily", "rotation": "two"},
        {"name": "b", "backup_type": "daily", "rotation": ""},
        {"name": "b", "backup_type": 5, "rotation": 1},
        {"name": "b", "backup_type": "daily", "rotation": 1, "extra": 1},
        {"name": " b", "backup_type": "daily", "rotation": 1},
    ],
)
def test_bad_backup_bodies_are_400(cloud: Cloud, bus: Bus, me: Who, body: dict) -> None:
    uid = make_instance(cloud, me)
    r = act(cloud, me.headers, uid, {"createBackup": body})
    assert r.status_code == 400, r.text
    assert instance(cloud, uid).task_state is None


def test_backup_in_a_wrong_state_is_409(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = make_instance(cloud, me, vm_state=states.SHELVED)
    r = act(cloud, me.headers, uid, backup())
    assert r.status_code == 409, r.text
    assert error(r)[2] == f"Cannot 'createBackup' instance {uid} while it is in vm_state shelved"
    busy = make_instance(cloud, me, task_state=states.IMAGE_SNAPSHOT)
    assert act(cloud, me.headers, busy, backup()).status_code == 409


def test_a_locked_server_may_be_backed_up(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = make_instance(cloud, me, locked=True)  # as Nova: a lock guards changes only
    assert act(cloud, me.headers, uid, backup()).status_code == 202
