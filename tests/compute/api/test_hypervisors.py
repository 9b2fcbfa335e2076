"""os-hypervisors: list/detail/show by microversion (int ids, 2.28 cpu_info object, 2.53
uuids + paging + with_servers, 2.88 without counters but with uptime), statistics,
uptime, search and servers (before 2.53)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from stackbox import bus as sbbus
from stackbox.compute import hostinfo
from tests.compute.api.actions_helpers import make_instance, who
from tests.compute.api.conftest import Cloud, call
from tests.compute.api.ops_helpers import add_host, node_of, service_of


def _get(cloud: Cloud, admin: dict, path: str, version: str | None = None) -> Any:
    r = call(cloud, "GET", path, admin, version)
    assert r.status_code == 200, r.text
    return r.json()


def test_detail_and_show_before_2_53(cloud: Cloud, admin: dict) -> None:
    host = add_host(cloud, vcpus_used=2, memory_mb_used=1024, local_gb_used=10, running_vms=2)
    node = node_of(cloud, host)
    hyps = _get(cloud, admin, "/os-hypervisors/detail")["hypervisors"]
    (h,) = [x for x in hyps if x["hypervisor_hostname"] == host]
    assert h["id"] == node.id and (h["state"], h["status"]) == ("up", "enabled")
    assert h["service"] == {"id": service_of(cloud, host).id, "host": host, "disabled_reason": None}
    assert (h["vcpus"], h["vcpus_used"], h["running_vms"]) == (8, 2, 2)
    assert (h["memory_mb_used"], h["free_ram_mb"]) == (1024 + 512, 8192 - 1536)
    assert (h["local_gb_used"], h["free_disk_gb"]) == (10, 90)
    assert isinstance(h["cpu_info"], str) and '"Nehalem"' in h["cpu_info"]
    assert h["hypervisor_type"] == "QEMU" and h["host_ip"] == "192.0.2.10"
    shown = _get(cloud, admin, f"/os-hypervisors/{node.id}", "2.28")["hypervisor"]
    assert shown["cpu_info"]["model"] == "Nehalem"
    brief = _get(cloud, admin, "/os-hypervisors")["hypervisors"]
    assert {"id": node.id, "hypervisor_hostname": host, "state": "up", "status": "enabled"} in brief
    assert call(cloud, "GET", "/os-hypervisors/999999", admin).status_code == 404


def test_uuid_ids_paging_and_with_servers(cloud: Cloud, admin: dict) -> None:
    host = add_host(cloud)
    node = node_of(cloud, host)
    uid = make_instance(cloud, who(cloud, admin), host=host)
    shown = _get(cloud, admin, f"/os-hypervisors/{node.uuid}?with_servers=1", "2.53")
    h = shown["hypervisor"]
    assert h["id"] == node.uuid and h["service"]["id"] == service_of(cloud, host).uuid
    assert [s["uuid"] for s in h["servers"]] == [uid]
    assert re.fullmatch(r"sbx-[0-9a-f]{8}-[0-9a-f]{8}", h["servers"][0]["name"])
    assert call(cloud, "GET", f"/os-hypervisors/{node.id}", admin, "2.53").status_code == 400
    page = _get(cloud, admin, "/os-hypervisors?limit=1", "2.53")
    assert len(page["hypervisors"]) == 1 and "marker=" in page["hypervisors_links"][0]["href"]
    found = _get(cloud, admin, f"/os-hypervisors?hypervisor_hostname_pattern={host}", "2.53")
    assert [x["id"] for x in found["hypervisors"]] == [node.uuid]
    r = call(cloud, "GET", "/os-hypervisors?hypervisor_hostname_pattern=zz-none", admin, "2.53")
    assert r.status_code == 404


class StandInComputeHost:
    """Answers on the bus for a compute host these API tests only have rows of; its
    uptime line is the real one (stackbox.compute.hostinfo), as a host would send."""

    def get_host_uptime(self) -> str | None:
        return hostinfo.uptime_text()


@contextlib.contextmanager
def answering(cloud: Cloud, host: str) -> Iterator[None]:
    state: Any = cloud.state
    portal = cloud.client.portal
    assert portal is not None
    old, local = state.bus, sbbus.connect("local://", default_timeout=5.0)
    portal.call(local.start)

    async def serve() -> None:
        await local.serve("compute", StandInComputeHost(), host=host)

    portal.call(serve)
    state.bus = local
    try:
        yield
    finally:
        state.bus = old
        portal.call(local.stop)


def test_2_88_drops_counters_and_statistics(cloud: Cloud, admin: dict) -> None:
    host = add_host(cloud, host_ip="127.0.0.1")
    node = node_of(cloud, host)
    h = _get(cloud, admin, f"/os-hypervisors/{node.uuid}", "2.88")["hypervisor"]
    assert "vcpus" not in h and "cpu_info" not in h and h["uptime"] is None  # nobody answers
    with answering(cloud, host):
        h = _get(cloud, admin, f"/os-hypervisors/{node.uuid}", "2.88")["hypervisor"]
    assert "load average" in h["uptime"]  # asked of the host over the bus
    assert call(cloud, "GET", "/os-hypervisors/statistics", admin, "2.88").status_code == 404
    r = call(cloud, "GET", f"/os-hypervisors/{node.uuid}/uptime", admin, "2.88")
    assert r.status_code == 404
    up = _get(cloud, admin, f"/os-hypervisors/{node.uuid}/uptime", "2.87")["hypervisor"]
    assert up["hypervisor_hostname"] == host and "uptime" in up


def test_statistics_sum_every_node(cloud: Cloud, admin: dict) -> None:
    before = _get(cloud, admin, "/os-hypervisors/statistics")["hypervisor_statistics"]
    add_host(cloud, vcpus=4, vcpus_used=1, running_vms=1)
    after = _get(cloud, admin, "/os-hypervisors/statistics")["hypervisor_statistics"]
    assert after["count"] == before["count"] + 1
    assert after["vcpus"] == before["vcpus"] + 4
    assert after["vcpus_used"] == before["vcpus_used"] + 1
    assert after["memory_mb"] == before["memory_mb"] + 8192
    assert after["running_vms"] == before["running_vms"] + 1


def test_search_and_servers_before_2_53(cloud: Cloud, admin: dict) -> None:
    host = add_host(cloud)
    uid = make_instance(cloud, who(cloud, admin), host=host)
    found = _get(cloud, admin, f"/os-hypervisors/{host}/search")["hypervisors"]
    assert [x["hypervisor_hostname"] for x in found] == [host]
    (h,) = _get(cloud, admin, f"/os-hypervisors/{host}/servers")["hypervisors"]
    assert [s["uuid"] for s in h["servers"]] == [uid]
    r = call(cloud, "GET", "/os-hypervisors/nothing-like-it/search", admin)
    assert r.status_code == 404
    assert "No hypervisor matching" in r.json()["itemNotFound"]["message"]
    assert call(cloud, "GET", f"/os-hypervisors/{host}/search", admin, "2.53").status_code == 404


def test_disabled_service_shows_in_status(cloud: Cloud, admin: dict) -> None:
    host = add_host(cloud)
    sid = service_of(cloud, host).uuid
    body = {"status": "disabled", "disabled_reason": "drain"}
    assert call(cloud, "PUT", f"/os-services/{sid}", admin, "2.53", json=body).status_code == 200
    h = _get(cloud, admin, f"/os-hypervisors/{node_of(cloud, host).uuid}", "2.53")["hypervisor"]
    assert h["status"] == "disabled" and h["service"]["disabled_reason"] == "drain"


def test_non_admin_is_forbidden(cloud: Cloud, demo: dict) -> None:
    assert call(cloud, "GET", "/os-hypervisors", demo).status_code == 403
    assert call(cloud, "GET", "/os-hypervisors/statistics", demo).status_code == 403
