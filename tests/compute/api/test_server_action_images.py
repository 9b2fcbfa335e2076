"""createImage and shelve/shelveOffload/unshelve: the queued snapshot image rows the API
makes (owner, visibility, Nova's snapshot properties), the Location/image_id answer per
microversion, and the casts to the compute host and the conductor."""

from __future__ import annotations

from stackbox.compute import requestspec, states
from stackbox.image.models import Image
from tests.compute.api.actions_helpers import (
    HOST,
    Bus,
    Who,
    act,
    actions_of,
    bus_fixture,  # noqa: F401  (the `bus` fixture)
    instance,
    make_instance,
)
from tests.compute.api.conftest import Cloud


def _image(cloud: Cloud, image_id: str) -> Image:
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        img = s.get(Image, image_id)
        assert img is not None
        s.expunge(img)
        return img


def test_create_image_before_245_gives_location(cloud: Cloud, bus: Bus, me: Who) -> None:
    uid = make_instance(
        cloud,
        me,
        image_ref="0f6c1a52-0000-4000-8000-000000000001",
        image_meta={"id": "x", "min_ram": 64, "min_disk": 0, "properties": {"kernel_id": "k1"}},
    )
    r = act(cloud, me.headers, uid, {"createImage": {"name": "snap1", "metadata": {"a": "b"}}})
    assert r.status_code == 202, r.text
    assert r.content == b""
    location = r.headers["Location"]
    image_id = location.rsplit("/", 1)[1]
    assert location.endswith(f"/image/v2/images/{image_id}")
    assert instance(cloud, uid).task_state == states.IMAGE_SNAPSHOT
    sent = bus.compute.wait("snapshot_instance", uuid=uid)
    assert sent["image_id"] == image_id
    img = _image(cloud, image_id)
    assert (img.name, img.status, img.visibility, img.owner) == (
        "snap1",
        "queued",
        "private",
        me.project_id,
    )
    assert (img.disk_format, img.container_format, img.min_disk, img.min_ram) == (
        "qcow2",
        "bare",
        1,
        64,
    )
    props = img.extra
    assert props["image_type"] == "snapshot"
    assert props["instance_uuid"] == uid
    assert props["base_image_ref"] == "0f6c1a52-0000-4000-8000-000000000001"
    assert props["user_id"] == me.user_id
    assert props["kernel_id"] == "k1"  # inherited: the snapshot boots the same way
    assert props["a"] == "b"
    # The owner sees it through the Image API.
    r = cloud.client.get(f"/image/v2/images/{image_id}", headers=me.headers)
    assert r.status_code == 200 and r.json()["status"] == "queued"
    assert actions_of(cloud, uid) == ["createImage"]


def test_create_image_245_returns_image_id(cloud: Cloud, bus: Bus, me: Who, boss: Who) -> None:
    uid = make_instance(cloud, me, states.STOPPED)
    # An admin's snapshot of a project's server still belongs to that project.
    r = act(cloud, boss.headers, uid, {"createImage": {"name": "snap2"}}, "2.45")
    assert r.status_code == 202, r.text
    image_id = r.json()["image_id"]
    assert "Location" not in r.headers
    assert _image(cloud, image_id).owner == me.project_id


def test_shelve_offload_and_unshelve(cloud: Cloud, bus: Bus, me: Who, boss: Who) -> None:
    uid = make_instance(cloud, me)
    r = act(cloud, me.headers, uid, {"shelve": None})
    assert r.status_code == 202, r.text
    row = instance(cloud, uid)
    assert row.task_state == states.SHELVING
    image_id = row.system_metadata["shelved_image_id"]
    assert row.system_metadata["shelved_host"] == HOST
    img = _image(cloud, image_id)
    assert img.name == f"{row.display_name}-shelved" and img.status == "queued"
    sent = bus.compute.wait("shelve_instance", uuid=uid)
    assert sent["image_id"] == image_id
    assert sent["offload"] is True  # shelved_offload_time defaults to 0

    shelved = make_instance(cloud, me, states.SHELVED)
    assert act(cloud, me.headers, shelved, {"shelveOffload": None}).status_code == 403
    r = act(cloud, me.headers, shelved, {"unshelve": {"availability_zone": "nova"}}, "2.77")
    assert r.status_code == 409  # a zone only for offloaded servers
    assert act(cloud, boss.headers, shelved, {"shelveOffload": None}).status_code == 202
    assert instance(cloud, shelved).task_state == states.SHELVING_OFFLOADING
    bus.compute.wait("shelve_offload_instance", uuid=shelved)

    off = make_instance(cloud, me, states.SHELVED_OFFLOADED, host=None,
                        system_metadata={"pinned_availability_zone": None})  # fmt: skip
    r = act(cloud, me.headers, off, {"unshelve": {"availability_zone": "atlantis"}}, "2.77")
    assert r.status_code == 400
    r = act(cloud, me.headers, off, {"unshelve": {"availability_zone": "nova"}}, "2.77")
    assert r.status_code == 202, r.text
    row = instance(cloud, off)
    assert (row.task_state, row.availability_zone) == (states.UNSHELVING, "nova")
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        assert requestspec.load(s, row)["availability_zone"] == "nova"  # where it goes
    bus.conductor.wait("unshelve_instance", instance_uuid=off)
    assert actions_of(cloud, off) == ["unshelve"]
