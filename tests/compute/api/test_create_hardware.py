"""Flavor extra specs and image properties that shape the guest (virt/hardware.py) are
checked by the API: a bad value or a flavor/image conflict is a 400 at create, resize and
rebuild, before anything is scheduled; good ones go through with the flavor copy."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from stackbox.compute.models import Instance
from stackbox.image.models import Image, ImageProperty
from tests.compute.api.actions_helpers import (
    Bus,
    Who,
    act,
    bus_fixture,  # noqa: F401  (the `bus` fixture)
    error,
    flavor_json,
    flavor_row,
    instance,
    make_instance,
)
from tests.compute.api.conftest import Cloud

API = "/compute/v2.1"
GOOD = {
    "hw:cpu_sockets": "1",
    "hw:cpu_cores": "2",
    "hw:watchdog_action": "reset",
    "quota:cpu_shares": "2048",
    "quota:disk_write_bytes_sec": "10485760",
    "quota:vif_outbound_average": "32768",
    "hw_rng:allowed": "True",
    "hw_rng:rate_bytes": "1024",
}
# (flavor extra specs, image properties, words of the 400), all with 2 vCPUs
BAD: list[tuple[dict[str, str], dict[str, str], str]] = [
    ({"hw:cpu_sockets": "1", "hw:cpu_cores": "4"}, {}, "Cannot find a CPU topology for 2 vCPUs"),
    ({"hw:cpu_threads": "3"}, {}, "Cannot find a CPU topology"),
    ({"hw:cpu_max_sockets": "1"}, {"hw_cpu_sockets": "2"}, "sockets=2 exceeds the limit of 1"),
    ({"hw:cpu_max_cores": "1"}, {"hw_cpu_max_cores": "2"}, "exceeds the flavor limit of 1"),
    ({"hw:cpu_cores": "x"}, {}, "Invalid value 'x' for hw:cpu_cores"),
    ({"quota:cpu_period": "10"}, {}, "quota:cpu_period"),
    ({"quota:cpu_quota": "5"}, {}, "quota:cpu_quota"),
    ({"quota:cpu_shares": "lots"}, {}, "quota:cpu_shares"),
    ({"quota:disk_total_bytes_sec": "1", "quota:disk_write_bytes_sec": "1"}, {}, "combined"),
    ({"quota:vif_outbound_burst": "1"}, {}, "needs quota:vif_outbound_average"),
    ({"hw:watchdog_action": "explode"}, {}, "hw:watchdog_action"),
    ({}, {"hw_watchdog_action": "explode"}, "hw_watchdog_action"),
    ({"hw_rng:allowed": "False"}, {"hw_rng_model": "virtio"}, "does not allow one"),
    ({"hw_rng:rate_period": "5"}, {}, "needs hw_rng:rate_bytes"),
    ({}, {"hw_rng_model": "egd"}, "hw_rng_model"),
    ({}, {"hw_firmware_type": "coreboot"}, "hw_firmware_type"),
    ({"hw:mem_page_size": "huge"}, {}, "hw:mem_page_size"),
    ({}, {"hw_mem_page_size": "2MB"}, "forbidden against '<empty>'"),
]
IDS = [f"{i}-{(list(f) + list(p))[0]}" for i, (f, p, _) in enumerate(BAD)]


@pytest.fixture(autouse=True)
def _gone_after(cloud: Cloud, me: Who) -> Iterator[None]:
    """Mark the servers a test made deleted afterwards: the session's cloud is shared and
    the project's quota counts live servers."""
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        before = {i.uuid for i in s.query(Instance).filter_by(project_id=me.project_id)}
    yield
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        for inst in s.query(Instance).filter_by(project_id=me.project_id, deleted=False):
            if inst.uuid not in before:
                inst.deleted, inst.deleted_at = True, dt.datetime.now(dt.UTC).replace(tzinfo=None)
        s.commit()


def _flavor(cloud: Cloud, admin: Who, specs: dict[str, str], **kw: Any) -> str:
    """A public flavor with `specs` set through the API (what `flavor set --property` does)."""
    flv = flavor_row(cloud, vcpus=2, memory_mb=64, **kw)
    if specs:
        r = cloud.client.post(
            f"{API}/flavors/{flv.flavorid}/os-extra_specs",
            json={"extra_specs": specs},
            headers=admin.headers,
        )
        assert r.status_code == 200, r.text
    return flv.flavorid


def _image(cloud: Cloud, owner: Who, props: dict[str, str]) -> str:
    image_id = str(uuid.uuid4())
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        img = Image(
            id=image_id,
            name="hw",
            status="active",
            visibility="private",
            owner=owner.project_id,
            disk_format="qcow2",
            container_format="bare",
            size=1024 * 1024,
        )
        img.properties = [ImageProperty(name=k, value=v) for k, v in props.items()]
        s.add(img)
    return image_id


def _create(cloud: Cloud, who: Who, flavor: str, image: str) -> Any:
    body = {"server": {"name": "hwvm", "flavorRef": flavor, "imageRef": image}}
    return cloud.client.post(f"{API}/servers", json=body, headers=who.headers)


def test_create_with_good_hardware_specs_is_accepted(
    cloud: Cloud, bus: Bus, me: Who, boss: Who
) -> None:
    flavor = _flavor(cloud, boss, GOOD)
    image = _image(cloud, me, {"hw_rng_model": "virtio", "hw_watchdog_action": "pause"})
    r = _create(cloud, me, flavor, image)
    assert r.status_code == 202, r.text
    uid = r.json()["server"]["id"]
    row = instance(cloud, uid)
    assert row.flavor["extra_specs"] == GOOD
    assert row.image_meta["properties"]["hw_watchdog_action"] == "pause"
    bus.conductor.wait("build_instances")


@pytest.mark.parametrize(("specs", "props", "words"), BAD, ids=IDS)
def test_create_refuses_bad_hardware_with_400(
    cloud: Cloud, bus: Bus, me: Who, boss: Who, specs: dict, props: dict, words: str
) -> None:
    flavor = _flavor(cloud, boss, specs)
    image = _image(cloud, me, props)
    before = len(bus.conductor.sent("build_instances"))
    r = _create(cloud, me, flavor, image)
    assert r.status_code == 400, r.text
    name, code, message = error(r)
    assert (name, code) == ("badRequest", 400)
    assert words in message
    assert len(bus.conductor.sent("build_instances")) == before  # nothing was cast


@pytest.mark.parametrize(("specs", "props", "words"), BAD, ids=IDS)
def test_resize_refuses_bad_hardware_with_400(
    cloud: Cloud, bus: Bus, me: Who, boss: Who, specs: dict, props: dict, words: str
) -> None:
    meta = {"id": None, "min_ram": 0, "min_disk": 0, "properties": props}
    uid = make_instance(cloud, me, image_meta=meta)
    target = _flavor(cloud, boss, specs, root_gb=2)
    r = act(cloud, me.headers, uid, {"resize": {"flavorRef": target}})
    assert r.status_code == 400, r.text
    assert words in error(r)[2]
    row = instance(cloud, uid)
    assert row.task_state is None and row.new_flavor is None


@pytest.mark.parametrize(("specs", "props", "words"), BAD, ids=IDS)
def test_rebuild_refuses_bad_hardware_with_400(
    cloud: Cloud, bus: Bus, me: Who, specs: dict, props: dict, words: str
) -> None:
    flavor = {**flavor_json(), "vcpus": 2, "extra_specs": specs}
    uid = make_instance(cloud, me, flavor=flavor)
    image = _image(cloud, me, props)
    r = act(cloud, me.headers, uid, {"rebuild": {"imageRef": image}})
    assert r.status_code == 400, r.text
    assert words in error(r)[2]
    assert instance(cloud, uid).task_state is None


def test_resize_to_a_good_hardware_flavor_goes_through(
    cloud: Cloud, bus: Bus, me: Who, boss: Who
) -> None:
    meta = {"id": None, "min_ram": 0, "min_disk": 0, "properties": {"hw_rng_model": "virtio"}}
    uid = make_instance(cloud, me, image_meta=meta)
    target = _flavor(cloud, boss, GOOD, root_gb=2)
    r = act(cloud, me.headers, uid, {"resize": {"flavorRef": target}})
    assert r.status_code == 202, r.text
    assert instance(cloud, uid).new_flavor["extra_specs"] == GOOD  # type: ignore[index]
