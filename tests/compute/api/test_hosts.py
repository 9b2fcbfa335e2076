"""os-hosts (what `openstack host list/show/set` call at 2.1): one row per service,
per-host (total)/(used_now)/(used_max)/per-project resources (seed 5.4.10), enable and
disable, 501 for what libvirt cannot do, gone from 2.43."""

from __future__ import annotations

from tests.compute.api.actions_helpers import flavor_json, make_instance, who
from tests.compute.api.conftest import Cloud, call
from tests.compute.api.ops_helpers import add_host, service_of


def test_list_rows_per_service_and_zone_filter(cloud: Cloud, admin: dict) -> None:
    host = add_host(cloud)
    ctl = add_host(cloud, binary="stackbox-scheduler")
    r = call(cloud, "GET", "/os-hosts", admin)
    assert r.status_code == 200, r.text
    hosts = r.json()["hosts"]
    assert {"host_name": host, "service": "compute", "zone": "nova"} in hosts
    assert {"host_name": ctl, "service": "scheduler", "zone": "internal"} in hosts
    internal = call(cloud, "GET", "/os-hosts?zone=internal", admin).json()["hosts"]
    assert host not in [h["host_name"] for h in internal]
    assert call(cloud, "GET", "/os-hosts", admin, "2.43").status_code == 404


def test_show_totals_and_per_project(cloud: Cloud, admin: dict, demo: dict) -> None:
    host = add_host(cloud, vcpus_used=3, memory_mb_used=1536, local_gb_used=3)
    boss, me = who(cloud, admin), who(cloud, demo)
    make_instance(cloud, me, host=host)  # m1.tiny: 1 vCPU, 512 MB, 1 GB
    make_instance(cloud, me, host=host)
    big = {**flavor_json(), "vcpus": 1, "memory_mb": 512, "root_gb": 1, "ephemeral_gb": 0}
    make_instance(cloud, boss, host=host, flavor=big)
    r = call(cloud, "GET", f"/os-hosts/{host}", admin)
    assert r.status_code == 200, r.text
    rows = {row["resource"]["project"]: row["resource"] for row in r.json()["host"]}
    assert rows["(total)"] == {"host": host, "project": "(total)", "cpu": 8,
                               "memory_mb": 8192, "disk_gb": 100}  # fmt: skip
    assert (rows["(used_now)"]["cpu"], rows["(used_now)"]["memory_mb"]) == (3, 1536 + 512)
    assert (rows["(used_max)"]["cpu"], rows["(used_max)"]["memory_mb"]) == (3, 1536)
    assert (rows[me.project_id]["cpu"], rows[me.project_id]["disk_gb"]) == (2, 2)
    assert rows[boss.project_id]["memory_mb"] == 512
    r = call(cloud, "GET", "/os-hosts/no-such-host", admin)
    assert r.status_code == 404
    assert r.json()["itemNotFound"]["message"] == "Compute host no-such-host could not be found."
    assert call(cloud, "GET", f"/os-hosts/{host}", demo).status_code == 403


def test_set_status_and_unsupported_actions(cloud: Cloud, admin: dict) -> None:
    host = add_host(cloud)
    r = call(cloud, "PUT", f"/os-hosts/{host}", admin, json={"status": "disable"})
    assert r.status_code == 200, r.text
    assert r.json() == {"host": host, "status": "disabled"}
    assert service_of(cloud, host).disabled is True
    r = call(cloud, "PUT", f"/os-hosts/{host}", admin, json={"status": "enable"})
    assert r.json()["status"] == "enabled" and service_of(cloud, host).disabled is False
    r = call(cloud, "PUT", f"/os-hosts/{host}", admin, json={"maintenance_mode": "enable"})
    assert r.status_code == 501
    assert call(cloud, "PUT", f"/os-hosts/{host}", admin, json={}).status_code == 400
    assert call(cloud, "GET", f"/os-hosts/{host}/reboot", admin).status_code == 501
