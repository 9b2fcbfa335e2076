"""GET /v2.1/servers/{id} (the view, microversion by microversion, key by key against
the recorded Nova samples) and PUT /v2.1/servers/{id}."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from stackbox.compute.models import InstanceFault
from stackbox.service.models import ServiceRecord
from tests.compute.api.servers_helpers import (  # noqa: F401
    MAXMV,
    Srv,
    srv_fixture,
    unique,
)

SAMPLES = Path("/work/shared/api-samples/compute")


def _sample(name: str) -> dict[str, Any]:
    return dict(json.loads((SAMPLES / name).read_text())["response_body"]["server"])


def _active(srv: Srv, sid: str, host: str = "cmp-1") -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    srv.set_row(
        sid,
        vm_state="active",
        task_state=None,
        power_state=1,
        host=host,
        node=host,
        launched_at=now,
        root_device_name="/dev/vda",
    )


def test_show_at_2_1_has_the_samples_keys(srv: Srv) -> None:
    sid = srv.boot(metadata={"purpose": "api-samples"}, key_name=srv.keypair)
    _active(srv, sid)
    sample = _sample("server-get-2.1.json")
    admin_view = srv.get(f"/servers/{sid}", who=srv.admin).json()["server"]
    assert list(admin_view) == list(sample)
    user_view = srv.get(f"/servers/{sid}").json()["server"]
    assert list(user_view) == [k for k in sample if not k.startswith("OS-EXT-SRV-ATTR:")]
    assert user_view["status"] == "ACTIVE"
    assert user_view["hostId"] == hashlib.sha224(f"{srv.demo_ids[1]}cmp-1".encode()).hexdigest()
    assert user_view["flavor"]["id"] == srv.flavors["tiny"]
    assert user_view["flavor"]["links"][0]["href"].endswith(
        f"/compute/flavors/{srv.flavors['tiny']}"
    )
    assert user_view["image"]["id"] == srv.images["tiny"]
    assert user_view["OS-EXT-AZ:availability_zone"] == "nova"
    assert user_view["OS-SRV-USG:launched_at"].count(".") == 1
    # the cloud's default template: sbx-<8 hex of the cloud id>-<id in hex>
    assert re.fullmatch(r"sbx-[0-9a-f]{8}-[0-9a-f]{8}", admin_view["OS-EXT-SRV-ATTR:instance_name"])
    for key in ("created", "updated"):
        assert user_view[key].endswith("Z") and len(user_view[key]) == 20


def test_show_at_max_has_the_samples_keys(srv: Srv) -> None:
    sid = srv.boot(mv=MAXMV, networks="none", description="d")
    _active(srv, sid)
    sample = _sample("server-get-maxmv.json")
    view = srv.get(f"/servers/{sid}", who=srv.admin, mv=MAXMV).json()["server"]
    assert list(view) == list(sample)
    assert list(view["flavor"]) == list(sample["flavor"])
    assert view["flavor"]["original_name"].startswith("sbx.tiny.")
    assert view["image"]["properties"]["kernel_id"]
    assert view["scheduler_hints"] == {}
    assert view["server_groups"] == [] and view["trusted_image_certificates"] is None
    assert view["host_status"] == ""  # no compute service registered for cmp-1
    user = srv.get(f"/servers/{sid}", mv=MAXMV).json()["server"]
    hidden = {"host_status", "OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:user_data"}
    assert hidden.isdisjoint(user)
    assert user["OS-EXT-SRV-ATTR:hostname"]  # every user's from 2.90


def test_show_at_2_47_embeds_the_flavor(srv: Srv) -> None:
    sid = srv.boot()
    flavor = srv.get(f"/servers/{sid}", mv="2.47").json()["server"]["flavor"]
    assert flavor == {
        "vcpus": 1,
        "ram": 64,
        "disk": 1,
        "ephemeral": 0,
        "swap": 0,
        "original_name": flavor["original_name"],
        "extra_specs": {},
    }
    building = srv.get(f"/servers/{sid}", mv="2.100").json()["server"]
    assert building["OS-EXT-AZ:availability_zone"] == ""
    assert building["progress"] == 0 and building["hostId"] == ""


def test_scheduler_hints_at_2_100(srv: Srv) -> None:
    body = srv.body(networks="none")
    body["os:scheduler_hints"] = {"custom_hint": "g1"}
    r = srv.post(body, mv=MAXMV)
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    assert srv.conductor.wait_for(sid)["request_spec"]["scheduler_hints"] == {"custom_hint": "g1"}
    assert srv.get(f"/servers/{sid}", mv="2.100").json()["server"]["scheduler_hints"] == {
        "custom_hint": "g1"
    }
    assert "scheduler_hints" not in srv.get(f"/servers/{sid}", mv="2.99").json()["server"]


def test_host_status_follows_the_service(srv: Srv) -> None:
    host = unique("cmp")
    sid = srv.boot()
    _active(srv, sid, host)
    with srv.state.db.session() as s:
        s.add(
            ServiceRecord(
                uuid=unique("svc"),
                binary="stackbox-compute",
                topic="compute",
                host=host,
                last_seen_up=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            )
        )
        s.commit()

    def status() -> str:
        return str(srv.get(f"/servers/{sid}", srv.admin, "2.16").json()["server"]["host_status"])

    assert status() == "UP"
    with srv.state.db.session() as s:
        s.query(ServiceRecord).filter_by(host=host).update({"disabled": True})
        s.commit()
    assert status() == "MAINTENANCE"
    with srv.state.db.session() as s:
        s.query(ServiceRecord).filter_by(host=host).update({"forced_down": True})
        s.commit()
    assert status() == "DOWN"
    assert "host_status" not in srv.get(f"/servers/{sid}", mv="2.16").json()["server"]


def test_fault_of_an_errored_server(srv: Srv) -> None:
    sid = srv.boot()
    srv.set_row(sid, vm_state="error", task_state=None)
    with srv.state.db.session() as s:
        s.add(InstanceFault(instance_uuid=sid, code=500, message="NoValidHost", details="tb"))
        s.commit()
    user = srv.get(f"/servers/{sid}").json()["server"]
    assert user["status"] == "ERROR"
    assert user["fault"]["message"] == "NoValidHost" and "details" not in user["fault"]
    assert set(user["fault"]) == {"code", "created", "message"}
    admin = srv.get(f"/servers/{sid}", who=srv.admin).json()["server"]
    assert admin["fault"]["details"] == "tb"
    assert "progress" not in user  # Nova shows progress only while building/active/...


def test_update(srv: Srv) -> None:
    sid = srv.boot()
    r = srv.put(f"/servers/{sid}", {"server": {"name": "renamed", "accessIPv4": "10.0.0.9"}})
    assert r.status_code == 200, r.text
    view = r.json()["server"]
    assert (view["name"], view["accessIPv4"]) == ("renamed", "10.0.0.9")
    assert "OS-EXT-STS:vm_state" not in view  # reduced view before 2.75
    r = srv.put(f"/servers/{sid}", {"server": {"description": "new"}}, mv="2.75")
    assert r.json()["server"]["description"] == "new"
    assert "OS-EXT-STS:vm_state" in r.json()["server"]
    r = srv.put(f"/servers/{sid}", {"server": {"hostname": "new-host"}}, mv="2.90")
    assert r.json()["server"]["OS-EXT-SRV-ATTR:hostname"] == "new-host"
    assert srv.put(f"/servers/{sid}", {"server": {"description": "x"}}).status_code == 400
    assert srv.put(f"/servers/{sid}", {"server": {"name": ""}}).status_code == 400
    assert srv.put(f"/servers/{sid}", {"server": {"accessIPv4": "nope"}}).status_code == 400
    assert srv.put(f"/servers/{sid}", {"server": {"accessIPv6": "10.0.0.1"}}).status_code == 400
    other = srv.boot(who=srv.admin)
    assert srv.put(f"/servers/{other}", {"server": {"name": "x"}}).status_code == 404
    assert srv.get(f"/servers/{sid}").json()["server"]["name"] == "renamed"


def test_detail_at_max_has_the_samples_keys(srv: Srv) -> None:
    name = unique("detail")
    sid = srv.boot(name=name)
    _active(srv, sid)
    sample = json.loads((SAMPLES / "servers-detail-maxmv.json").read_text())["response_body"]
    keys = list(sample["servers"][0])
    r = srv.get(f"/servers/detail?all_tenants=1&name={name}", who=srv.admin, mv=MAXMV)
    assert [list(s) for s in r.json()["servers"]] == [keys]


def test_update_normalizes_access_ipv6(srv: Srv) -> None:
    sid = srv.boot()
    body = {"server": {"accessIPv6": "2001:0DB8:0000:0000:0000:0000:0000:0001"}}
    r = srv.put(f"/servers/{sid}", body)
    assert r.status_code == 200, r.text
    assert r.json()["server"]["accessIPv6"] == "2001:db8::1"
    assert srv.get(f"/servers/{sid}").json()["server"]["accessIPv6"] == "2001:db8::1"
