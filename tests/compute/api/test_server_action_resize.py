"""resize (+ confirmResize, revertResize) and rebuild: the flavor and image checks with
Nova's 400s, what the row keeps, the casts, and the rebuild answer per microversion."""

from __future__ import annotations

import uuid
from typing import Any

from stackbox.compute import requestspec, states
from stackbox.image.models import Image
from tests.compute.api.actions_helpers import (
    Bus,
    Who,
    act,
    actions_of,
    bus_fixture,  # noqa: F401  (the `bus` fixture)
    error,
    flavor_json,
    flavor_row,
    instance,
    make_instance,
)
from tests.compute.api.conftest import Cloud


def test_resize_checks_flavor_and_casts_to_conductor(cloud: Cloud, bus: Bus, me: Who) -> None:
    big = flavor_row(cloud, root_gb=2, memory_mb=1024)
    small = flavor_row(cloud, root_gb=1)
    zero = flavor_row(cloud, root_gb=0)
    uid = make_instance(cloud, me, flavor=flavor_json(big))
    r = act(cloud, me.headers, uid, {"resize": {"flavorRef": big.flavorid}})
    assert r.status_code == 400
    assert error(r)[2] == "When resizing, instances must change flavor!"
    r = act(cloud, me.headers, uid, {"resize": {"flavorRef": small.flavorid}})
    assert r.status_code == 400 and "resize disk down" in error(r)[2]
    r = act(cloud, me.headers, uid, {"resize": {"flavorRef": zero.flavorid}})
    assert r.status_code == 400 and "zero disk" in error(r)[2]
    r = act(cloud, me.headers, uid, {"resize": {"flavorRef": "no-such-flavor"}})
    assert r.status_code == 400
    assert instance(cloud, uid).task_state is None

    up = flavor_row(cloud, root_gb=3, memory_mb=2048, vcpus=2)
    r = act(cloud, me.headers, uid, {"resize": {"flavorRef": f"http://x/flavors/{up.flavorid}"}})
    assert r.status_code == 202, r.text
    row = instance(cloud, uid)
    assert row.task_state == states.RESIZE_PREP
    assert row.new_flavor is not None and row.new_flavor["flavorid"] == up.flavorid
    assert row.new_flavor["memory_mb"] == 2048
    assert row.old_flavor == flavor_json(big)
    sent = bus.conductor.wait("resize_instance", instance_uuid=uid)
    assert sent["new_flavor"]["vcpus"] == 2
    assert sent["request_id"] == r.headers["x-openstack-request-id"]


def test_confirm_and_revert_resize(cloud: Cloud, bus: Bus, me: Who) -> None:
    one = make_instance(cloud, me, states.RESIZED)
    assert act(cloud, me.headers, one, {"confirmResize": None}).status_code == 204
    assert instance(cloud, one).task_state is None
    bus.compute.wait("confirm_resize", uuid=one)
    two = make_instance(cloud, me, states.RESIZED)
    assert act(cloud, me.headers, two, {"revertResize": None}).status_code == 202
    assert instance(cloud, two).task_state == states.RESIZE_REVERTING
    bus.compute.wait("revert_resize", uuid=two)
    # While reverting, a confirm is refused.
    r = act(cloud, me.headers, two, {"confirmResize": None})
    assert r.status_code == 409
    assert actions_of(cloud, one) == ["confirmResize"]
    assert actions_of(cloud, two) == ["revertResize"]


def _active_image(cloud: Cloud, owner: Who, **kw: Any) -> str:
    image_id = str(uuid.uuid4())
    values = {
        "id": image_id,
        "name": "cirros",
        "status": "active",
        "visibility": "private",
        "owner": owner.project_id,
        "disk_format": "qcow2",
        "container_format": "bare",
        "size": 16 * 1024 * 1024,
        **kw,
    }
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        s.add(Image(**values))
    return image_id


def test_rebuild_returns_server_with_password(cloud: Cloud, bus: Bus, me: Who, boss: Who) -> None:
    uid = make_instance(cloud, me)
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        assert requestspec.load(s, instance(cloud, uid))["image"]["id"] is None  # stored
    image_id = _active_image(cloud, me)
    r = act(
        cloud,
        me.headers,
        uid,
        {"rebuild": {"imageRef": image_id, "name": "rebuilt", "metadata": {"k": "v"}}},
    )
    assert r.status_code == 202, r.text
    server = r.json()["server"]
    assert server["id"] == uid and server["name"] == "rebuilt"
    assert server["status"] == "REBUILD"
    assert server["image"]["id"] == image_id
    assert server["metadata"] == {"k": "v"}
    assert len(server["adminPass"]) >= 8
    sent = bus.compute.wait("rebuild_instance", uuid=uid)
    assert sent["instance"]["image_ref"] == image_id
    assert sent["admin_password"] == server["adminPass"]
    assert instance(cloud, uid).image_meta["id"] == image_id
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        assert requestspec.load(s, instance(cloud, uid))["image"]["id"] == image_id
    # Before 2.75 the answer leaves the extension attributes out; from 2.75 it is a show.
    assert "OS-EXT-STS:vm_state" not in server and "key_name" not in server
    other = make_instance(cloud, me)
    r = act(cloud, me.headers, other, {"rebuild": {"imageRef": image_id}}, "2.75")
    assert r.status_code == 202, r.text
    assert r.json()["server"]["OS-EXT-STS:task_state"] == states.REBUILDING


def test_rebuild_key_name_and_user_data_by_microversion(cloud: Cloud, bus: Bus, me: Who) -> None:
    from stackbox.compute.models import KeyPair

    image_id = _active_image(cloud, me)
    name = f"k-{uuid.uuid4().hex[:8]}"
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        s.add(KeyPair(name=name, user_id=me.user_id, fingerprint="f", public_key="ssh-ed25519 A"))
    uid = make_instance(cloud, me)
    body: dict[str, Any] = {"rebuild": {"imageRef": image_id, "key_name": name}}
    assert act(cloud, me.headers, uid, body, "2.53").status_code == 400
    assert act(cloud, me.headers, uid, body, "2.54").status_code == 202
    row = instance(cloud, uid)
    assert (row.key_name, row.key_data) == (name, "ssh-ed25519 A")
    other = make_instance(cloud, me)
    body = {"rebuild": {"imageRef": image_id, "key_name": "nope"}}
    assert act(cloud, me.headers, other, body, "2.54").status_code == 400
    body = {"rebuild": {"imageRef": image_id, "user_data": "not base64!"}}
    assert act(cloud, me.headers, other, body, "2.57").status_code == 400
    body = {"rebuild": {"imageRef": image_id, "user_data": "aGk=", "key_name": None}}
    assert act(cloud, me.headers, other, body, "2.57").status_code == 202
    row = instance(cloud, other)
    assert (row.user_data, row.key_name) == ("aGk=", None)


def test_rebuild_rejects_invisible_inactive_and_too_big_images(
    cloud: Cloud, bus: Bus, me: Who, boss: Who
) -> None:
    uid = make_instance(cloud, me)
    cases = [
        (_active_image(cloud, boss), "Can not find requested image"),
        (_active_image(cloud, me, status="queued"), "is not active"),
        (_active_image(cloud, me, size=2 * 1024**3), "Flavor's disk is too small"),
        (_active_image(cloud, me, min_ram=4096), "Flavor's memory is too small"),
    ]
    for image_id, text in cases:
        r = act(cloud, me.headers, uid, {"rebuild": {"imageRef": image_id}})
        assert r.status_code == 400, r.text
        assert text in error(r)[2]
    assert instance(cloud, uid).task_state is None


def test_rebuild_checks_and_normalizes_access_ips(cloud: Cloud, bus: Bus, me: Who) -> None:
    image_id = _active_image(cloud, me)
    uid = make_instance(cloud, me)
    for bad in ({"accessIPv4": "10.0.0.256"}, {"accessIPv6": "1.2.3.4"}, {"accessIPv4": None}):
        r = act(cloud, me.headers, uid, {"rebuild": {"imageRef": image_id, **bad}})
        assert r.status_code == 400, (bad, r.text)
        assert error(r)[0] == "badRequest"
    long_form = "0000:0000:0000:0000:0000:babe:220.12.22.2"
    body = {"imageRef": image_id, "accessIPv4": "10.0.0.9", "accessIPv6": long_form}
    r = act(cloud, me.headers, uid, {"rebuild": body})
    assert r.status_code == 202, r.text
    server = r.json()["server"]
    assert (server["accessIPv4"], server["accessIPv6"]) == ("10.0.0.9", "::babe:dc0c:1602")
    row = instance(cloud, uid)
    assert (row.access_ip_v4, row.access_ip_v6) == ("10.0.0.9", "::babe:dc0c:1602")


def test_rebuild_personality_before_2_57_only(cloud: Cloud, bus: Bus, me: Who) -> None:
    image_id = _active_image(cloud, me)
    files = [{"path": "/etc/motd", "contents": "aGk="}]
    for mv in ("2.1", "2.56"):
        uid = make_instance(cloud, me)
        body = {"rebuild": {"imageRef": image_id, "personality": files}}
        assert act(cloud, me.headers, uid, body, mv).status_code == 202
        assert bus.compute.wait("rebuild_instance", uuid=uid)["injected_files"] == files
    uid = make_instance(cloud, me)
    assert act(cloud, me.headers, uid, body, "2.57").status_code == 400
    bad = {"rebuild": {"imageRef": image_id, "personality": [{"path": "/a", "contents": "!"}]}}
    r = act(cloud, me.headers, uid, bad)
    assert r.status_code == 400
    assert error(r)[2] == "Personality content for /a cannot be decoded"
    many = [{"path": f"/f{i}", "contents": "aGk="} for i in range(6)]
    r = act(cloud, me.headers, uid, {"rebuild": {"imageRef": image_id, "personality": many}})
    assert (r.status_code, error(r)[2]) == (403, "Personality file limit exceeded")
    assert instance(cloud, uid).task_state is None  # nothing changed
