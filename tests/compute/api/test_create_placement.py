"""NUMA, pinning and PCI extra specs are checked at create: a request that cannot
describe a guest (uneven NUMA split, thread policy without dedicated CPUs, an undefined
PCI alias...) is a 400 before anything is scheduled; good ones are cast."""

from __future__ import annotations

import pytest

from tests.compute.api.actions_helpers import (  # noqa: F401
    Bus,
    Who,
    act,
    bus_fixture,
    error,
    instance,
    make_instance,
)
from tests.compute.api.conftest import Cloud
from tests.compute.api.test_create_hardware import _create, _flavor, _gone_after, _image  # noqa: F401

BAD = [
    ({"hw:numa_nodes": "3"}, "must be between 1 and"),
    ({"hw:numa_nodes": "2", "hw:numa_cpus.0": "0"}, "must be set for every N"),
    ({"hw:cpu_thread_policy": "isolate"}, "non dedicated cpu pinning policy"),
    ({"hw:cpu_policy": "sometimes"}, "Invalid hw:cpu_policy"),
    ({"pci_passthrough:alias": "nosuch:1"}, "PCI alias nosuch is not defined"),
]


@pytest.mark.parametrize(("specs", "words"), BAD, ids=[w for _, w in BAD])
def test_bad_placement_specs_are_400(
    cloud: Cloud, bus: Bus, me: Who, boss: Who, specs: dict, words: str
) -> None:
    flavor = _flavor(cloud, boss, specs)
    before = len(bus.conductor.sent("build_instances"))
    r = _create(cloud, me, flavor, _image(cloud, me, {}))
    assert r.status_code == 400, r.text
    assert error(r)[:2] == ("badRequest", 400) and words in error(r)[2]
    assert len(bus.conductor.sent("build_instances")) == before


def test_good_placement_specs_are_cast(cloud: Cloud, bus: Bus, me: Who, boss: Who) -> None:
    specs = {"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "prefer", "hw:numa_nodes": "2"}
    r = _create(cloud, me, _flavor(cloud, boss, specs), _image(cloud, me, {}))
    assert r.status_code == 202, r.text
    bus.conductor.wait("build_instances")


@pytest.mark.parametrize(("specs", "words"), BAD, ids=[w for _, w in BAD])
def test_resize_to_a_bad_placement_is_400(
    cloud: Cloud, bus: Bus, me: Who, boss: Who, specs: dict, words: str
) -> None:
    meta = {"id": None, "min_ram": 0, "min_disk": 0, "properties": {}}
    uid = make_instance(cloud, me, image_meta=meta)
    r = act(cloud, me.headers, uid, {"resize": {"flavorRef": _flavor(cloud, boss, specs)}})
    assert r.status_code == 400, r.text
    assert words in error(r)[2]
    row = instance(cloud, uid)
    assert row.task_state is None and row.new_flavor is None
