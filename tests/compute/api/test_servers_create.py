"""POST /v2.1/servers: the 202 answer, the rows it writes, the cast to the conductor,
and every 400/403 the checks give (Nova's messages)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from tests.compute.api.servers_helpers import (  # noqa: F401
    MAXMV,
    Srv,
    srv_fixture,
    unique,
)


def test_create_answers_202_and_casts_build(srv: Srv) -> None:
    r = srv.post(srv.body(metadata={"purpose": "test"}, key_name=srv.keypair))
    assert r.status_code == 202, r.text
    server = r.json()["server"]
    assert list(server) == ["id", "links", "OS-DCF:diskConfig", "security_groups", "adminPass"]
    assert server["security_groups"] == [{"name": "default"}]
    assert len(server["adminPass"]) == 12
    build = srv.conductor.wait_for(server["id"])
    assert build["instance_uuids"] == [server["id"]]
    spec = build["request_spec"]
    assert spec["flavor"]["memory_mb"] == 64
    assert spec["image"]["id"] == srv.images["tiny"]
    assert spec["project_id"] == srv.demo_ids[1]
    assert build["admin_password"] == server["adminPass"]
    shown = srv.get(f"/servers/{server['id']}").json()["server"]
    assert shown["status"] == "BUILD"
    assert shown["OS-EXT-STS:task_state"] == "scheduling"
    assert shown["metadata"] == {"purpose": "test"}
    assert shown["key_name"] == srv.keypair


def _error(r: Any, status: int) -> str:
    assert r.status_code == status, r.text
    key = {400: "badRequest", 403: "forbidden", 404: "itemNotFound"}[status]
    return str(r.json()[key]["message"])


def test_missing_flavor_ref_is_novas_400(srv: Srv) -> None:
    body = {"server": {"name": "bad", "imageRef": srv.images["tiny"], "networks": "none"}}
    msg = _error(srv.post(body, mv=MAXMV), 400)
    assert msg.startswith("Invalid input for field/attribute server. Value: {'name': 'bad'")
    assert msg.endswith("'flavorRef' is a required property")


def test_networks_rules_by_microversion(srv: Srv) -> None:
    # 2.1: networks is a list (the sample servers-create-2.1-networks-none-rejected)
    msg = _error(srv.post(srv.body(networks="none")), 400)
    assert msg == (
        "Invalid input for field/attribute networks. Value: none. 'none' is not of type 'array'"
    )
    # 2.37+: required, "none"/"auto" accepted, a real network list is refused honestly
    msg = _error(srv.post(srv.body(), mv="2.37"), 400)
    assert "'networks' is a required property" in msg
    assert srv.post(srv.body(networks="auto"), mv="2.37").status_code == 202
    msg = _error(srv.post(srv.body(networks=[{"uuid": str(uuid.uuid4())}]), mv=MAXMV), 400)
    assert "networking is not available yet" in msg


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"flavorRef": "no-such-flavor"}, "Flavor no-such-flavor could not be found."),
        ({"flavorRef": "@disabled"}, "Flavor {disabled} could not be found."),
        ({"flavorRef": "@private"}, "Flavor {private} could not be found."),
        ({"imageRef": "not-a-uuid"}, "Invalid imageRef provided."),
        ({"imageRef": "@private"}, "Can not find requested image"),
        ({"imageRef": "@queued"}, "Image {queued} is not active."),
        ({"imageRef": "@min_ram"}, "Flavor's memory is too small for requested image."),
        (
            {"imageRef": "@huge"},
            "Flavor's disk is too small for requested image. Flavor disk is 1073741824 bytes, "
            "image is 3221225472 bytes.",
        ),
        (
            {"imageRef": "@min_disk"},
            "Flavor's disk is smaller than the minimum size specified in image metadata. "
            "Flavor disk is 1073741824 bytes, minimum size is 5368709120 bytes.",
        ),
        ({"key_name": "nobody-has-this-key"}, "Invalid key_name provided."),
        ({"min_count": 3, "max_count": 2}, "min_count must be <= max_count"),
        ({"user_data": "%%% not base64"}, "User data needs to be valid base 64."),
        ({"availability_zone": "atlantis"}, "The requested availability zone is not available"),
        ({"imageRef": ""}, "Missing imageRef attribute"),
        (
            {
                "block_device_mapping_v2": [
                    {"boot_index": 0, "uuid": str(uuid.uuid4()), "source_type": "volume"}
                ]
            },
            "volumes are not available yet",
        ),
    ],
)
def test_create_checks_answer_400(srv: Srv, change: dict, message: str) -> None:
    change = dict(change)
    for key, value in list(change.items()):
        if isinstance(value, str) and value.startswith("@"):
            table = srv.flavors if key == "flavorRef" else srv.images
            change[key] = table[value[1:]]
    expected = message.format(**(srv.flavors if "flavorRef" in change else srv.images))
    assert expected in _error(srv.post(srv.body(**change)), 400)


def test_name_and_metadata_shapes(srv: Srv) -> None:
    assert "name" in _error(srv.post(srv.body(name=" padded")), 400)
    assert "name" in _error(srv.post(srv.body(name="")), 400)
    assert "is too long" in _error(srv.post(srv.body(metadata={"k": "v" * 256})), 400)
    too_many = {f"k{i}": "v" for i in range(129)}
    assert "metadata items" in _error(srv.post(srv.body(metadata=too_many)), 403)
    assert _error(srv.post(srv.body(bogus=1)), 400).startswith("Invalid input")


def test_flavor_link_and_shared_private_flavor(srv: Srv) -> None:
    link = f"http://127.0.0.1:18080/compute/flavors/{srv.flavors['shared']}"
    sid = srv.boot(flavorRef=link)
    shown = srv.get(f"/servers/{sid}", mv="2.47").json()["server"]
    assert shown["flavor"]["original_name"].startswith("sbx.shared.")
    # root_gb 0 takes any image size
    assert (
        srv.post(srv.body(flavorRef=srv.flavors["zero"], imageRef=srv.images["huge"])).status_code
        == 202
    )


def test_forced_host_is_for_admins(srv: Srv) -> None:
    assert _error(srv.post(srv.body(availability_zone="nova:host1")), 403).startswith(
        "Policy doesn't allow os_compute_api:servers:create:forced_host"
    )
    r = srv.post(srv.body(availability_zone="nova:host1"), who=srv.admin)
    assert r.status_code == 202, r.text
    spec = srv.conductor.wait_for(r.json()["server"]["id"])["request_spec"]
    assert (spec["availability_zone"], spec["force_host"]) == ("nova", "host1")
    r = srv.post(srv.body(availability_zone="nova::node7"), who=srv.admin)
    spec = srv.conductor.wait_for(r.json()["server"]["id"])["request_spec"]
    assert spec["force_host"] == ":node7"


def test_cli_boot_from_image_bdm_is_accepted(srv: Srv) -> None:
    bdm = {
        "boot_index": 0,
        "uuid": srv.images["tiny"],
        "source_type": "image",
        "destination_type": "local",
        "delete_on_termination": True,
    }
    r = srv.post(srv.body(imageRef="", block_device_mapping_v2=[bdm], networks="none"), mv=MAXMV)
    assert r.status_code == 202, r.text
    shown = srv.get(f"/servers/{r.json()['server']['id']}").json()["server"]
    assert shown["image"]["id"] == srv.images["tiny"]


def test_multi_create_names_and_one_cast(srv: Srv) -> None:
    name = unique("multi")
    r = srv.post(srv.body(name=name, min_count=2, max_count=3))
    assert r.status_code == 202, r.text
    build = srv.conductor.wait_for(r.json()["server"]["id"])
    assert len(build["instance_uuids"]) == 3
    listed = srv.get(f"/servers/detail?name=^{name}", mv="2.3", who=srv.admin)
    assert listed.status_code == 200
    mine = srv.get(f"/servers/detail?name=^{name}").json()["servers"]
    assert sorted(s["name"] for s in mine) == [f"{name}-1", f"{name}-2", f"{name}-3"]
    assert len({s["id"] for s in mine}) == 3
    r = srv.post(srv.body(max_count=2, return_reservation_id=True))
    assert r.status_code == 202 and set(r.json()) == {"reservation_id"}
    rid = r.json()["reservation_id"]
    assert rid.startswith("r-") and len(rid) == 10
    assert len(srv.get(f"/servers?reservation_id={rid}").json()["servers"]) == 2


def test_create_row_details(srv: Srv) -> None:
    user_data = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    sid = srv.boot(
        mv=MAXMV,
        name="My Server_1.example",
        networks="none",
        description="described",
        tags=["a", "b"],
        user_data=user_data,
        config_drive=True,
    )
    s = srv.get(f"/servers/{sid}", who=srv.admin, mv=MAXMV).json()["server"]
    assert s["OS-EXT-SRV-ATTR:hostname"] == "my-server-1-example"
    assert s["OS-EXT-SRV-ATTR:user_data"] == user_data
    assert s["OS-EXT-SRV-ATTR:kernel_id"]  # from the image's kernel_id property
    assert s["OS-EXT-SRV-ATTR:reservation_id"].startswith("r-")
    assert (s["description"], s["tags"], s["config_drive"]) == ("described", ["a", "b"], "True")
    actions = srv.get(f"/servers/{sid}/os-instance-actions")
    if actions.status_code == 200:  # H5b's module; the row is ours either way
        assert actions.json()["instanceActions"][0]["action"] == "create"


def test_an_image_can_require_a_config_drive(srv: Srv) -> None:
    sid = srv.boot(imageRef=srv.images["needs_cd"])
    s = srv.get(f"/servers/{sid}").json()["server"]
    assert s["config_drive"] == "True"
    plain = srv.get(f"/servers/{srv.boot()}").json()["server"]
    assert plain["config_drive"] == ""


def test_access_ips_are_checked_and_stored_normalized(srv: Srv) -> None:
    # Tempest's test_create_server: Nova shows the address in its compressed form.
    long_form = "0000:0000:0000:0000:0000:babe:220.12.22.2"
    sid = srv.boot(accessIPv4="1.1.1.1", accessIPv6=long_form)
    shown = srv.get(f"/servers/{sid}").json()["server"]
    assert (shown["accessIPv4"], shown["accessIPv6"]) == ("1.1.1.1", "::babe:dc0c:1602")
    for bad in ({"accessIPv4": "1.1.1"}, {"accessIPv4": "::1"}, {"accessIPv6": "babe"}):
        msg = _error(srv.post(srv.body(**bad)), 400)
        field = next(iter(bad))
        assert msg.startswith(f"Invalid input for field/attribute {field}. Value: "), msg
