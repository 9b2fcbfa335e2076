"""os-quota-sets and os-quota-class-sets, and quota enforcement through the API: create
(single, multi-create, 50 concurrent), resize, key pairs, metadata; on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from stackbox.compute.models import Instance
from tests.compute.api.quota_helpers import new_member, req, set_quota
from tests.compute.api.servers_helpers import Srv, srv_fixture, unique

__all__ = ["srv_fixture"]

SAMPLES = Path("/work/shared/api-samples/compute")


def _boot(srv: Srv, who: dict, **server: object) -> object:
    return srv.post(srv.body(**server), who)


def test_show_shape_matches_sample_per_microversion(srv: Srv) -> None:
    m = new_member(srv)
    sample = json.loads((SAMPLES / "quota-sets-get.json").read_text())["response_body"]
    r = req(srv, "GET", f"/os-quota-sets/{m.project_id}", m.headers)
    assert r.status_code == 200, r.text
    assert set(r.json()["quota_set"]) == set(sample["quota_set"])
    assert r.json()["quota_set"]["id"] == m.project_id
    r = req(srv, "GET", f"/os-quota-sets/{m.project_id}", m.headers, "2.36")
    assert "floating_ips" not in r.json()["quota_set"]
    assert "injected_files" in r.json()["quota_set"]
    r = req(srv, "GET", f"/os-quota-sets/{m.project_id}", m.headers, "2.57")
    assert set(r.json()["quota_set"]) == {
        "id", "instances", "cores", "ram", "key_pairs", "metadata_items",
        "server_groups", "server_group_members",
    }  # fmt: skip


def test_update_show_delete_and_policy(srv: Srv) -> None:
    m, other = new_member(srv), new_member(srv)
    path = f"/os-quota-sets/{m.project_id}"
    r = req(srv, "PUT", path, m.headers, json={"quota_set": {"instances": 2}})
    assert r.status_code == 403  # members may not change their quotas
    body = set_quota(srv, m.project_id, instances=2, cores="7")
    assert "id" not in body and body["instances"] == 2 and body["cores"] == 7
    assert req(srv, "GET", path, m.headers).json()["quota_set"]["instances"] == 2
    assert req(srv, "GET", path, other.headers).status_code == 403  # not its project
    r = req(srv, "GET", f"{path}/defaults", m.headers)
    assert r.status_code == 200 and r.json()["quota_set"]["key_pairs"] == 100
    r = req(srv, "PUT", path, srv.admin, json={"quota_set": {"instances": -2}})
    assert r.status_code == 400
    r = req(srv, "PUT", path, srv.admin, json={"quota_set": {"bogus": 1}})
    assert r.status_code == 400
    # a string of 65,536 digits passed the schema and int() refused it: a 500
    for name in ("cores", "injected_file_content_bytes"):
        r = req(srv, "PUT", path, srv.admin, json={"quota_set": {name: "0" * 65536}})
        assert r.status_code == 400, r.text
    r = req(
        srv,
        "PUT",
        "/os-quota-class-sets/default",
        srv.admin,
        json={"quota_class_set": {"cores": "1" * 5000}},
    )
    assert r.status_code == 400, r.text
    assert req(srv, "DELETE", path, m.headers).status_code == 403
    assert req(srv, "DELETE", path, srv.admin).status_code == 202
    shown = req(srv, "GET", path, m.headers).json()["quota_set"]
    defaults = req(srv, "GET", f"{path}/defaults", m.headers).json()["quota_set"]
    assert shown == defaults and shown["cores"] != 7  # back to the defaults


def test_per_user_quota(srv: Srv) -> None:
    m = new_member(srv)
    set_quota(srv, m.project_id, instances=5)
    path = f"/os-quota-sets/{m.project_id}?user_id={m.user_id}"
    r = req(srv, "PUT", path, srv.admin, json={"quota_set": {"instances": 6}})
    assert r.status_code == 400 and "less than or equal to 5" in r.text
    r = req(srv, "PUT", path, srv.admin, json={"quota_set": {"instances": 1}})
    assert r.status_code == 200, r.text
    assert req(srv, "GET", path, m.headers).json()["quota_set"]["instances"] == 1
    assert _boot(srv, m.headers).status_code == 202  # type: ignore[attr-defined]
    r = _boot(srv, m.headers)
    assert r.status_code == 403  # type: ignore[attr-defined]
    assert r.json()["forbidden"]["message"] == (  # type: ignore[attr-defined]
        "Quota exceeded for instances: Requested 1, but already used 1 of 1 instances"
    )


def test_third_server_refused_with_novas_message(srv: Srv) -> None:
    m = new_member(srv)
    set_quota(srv, m.project_id, instances=2)
    for _ in range(2):
        assert _boot(srv, m.headers).status_code == 202  # type: ignore[attr-defined]
    r = _boot(srv, m.headers)
    assert r.status_code == 403  # type: ignore[attr-defined]
    assert r.json() == {  # type: ignore[attr-defined]
        "forbidden": {
            "code": 403,
            "message": "Quota exceeded for instances: Requested 1, but already used 2 of 2 "
            "instances",
        }
    }
    detail = req(srv, "GET", f"/os-quota-sets/{m.project_id}/detail", m.headers).json()
    assert detail["quota_set"]["instances"] == {"in_use": 2, "limit": 2, "reserved": 0}
    assert detail["quota_set"]["cores"]["in_use"] == 2
    # a limit below usage needs force
    path = f"/os-quota-sets/{m.project_id}"
    r = req(srv, "PUT", path, srv.admin, json={"quota_set": {"instances": 1}})
    assert r.status_code == 400
    assert "must be greater than or equal to already used and reserved 2" in r.text
    r = req(srv, "PUT", path, srv.admin, json={"quota_set": {"instances": 1, "force": True}})
    assert r.status_code == 200 and r.json()["quota_set"]["instances"] == 1


def test_deleted_servers_free_quota(srv: Srv) -> None:
    m = new_member(srv)
    set_quota(srv, m.project_id, instances=1)
    sid = _boot(srv, m.headers).json()["server"]["id"]  # type: ignore[attr-defined]
    assert _boot(srv, m.headers).status_code == 403  # type: ignore[attr-defined]
    srv.set_row(sid, deleted=True)
    assert _boot(srv, m.headers).status_code == 202  # type: ignore[attr-defined]


def test_multi_create_takes_what_fits(srv: Srv) -> None:
    m = new_member(srv)
    set_quota(srv, m.project_id, instances=3)
    r = _boot(srv, m.headers, min_count=1, max_count=5, return_reservation_id=True)
    assert r.status_code == 202, r.text  # type: ignore[attr-defined]
    rid = r.json()["reservation_id"]  # type: ignore[attr-defined]
    with srv.state.db.session() as s:
        assert s.query(Instance).filter_by(reservation_id=rid).count() == 3
    r = _boot(srv, m.headers, min_count=1, max_count=2)
    assert r.status_code == 403  # type: ignore[attr-defined]
    assert "Requested 1-2, but already used 3 of 3 instances" in r.text  # type: ignore[attr-defined]


def test_multi_create_min_count_must_fit_cores(srv: Srv) -> None:
    m = new_member(srv)
    set_quota(srv, m.project_id, cores=2)
    r = _boot(srv, m.headers, min_count=3, max_count=3)
    assert r.status_code == 403  # type: ignore[attr-defined]
    assert r.json()["forbidden"]["message"] == (  # type: ignore[attr-defined]
        "Quota exceeded for cores: Requested 3, but already used 0 of 2 cores"
    )


def test_ram_quota(srv: Srv) -> None:
    m = new_member(srv)
    set_quota(srv, m.project_id, ram=100)  # the tiny flavor has 64 MiB
    assert _boot(srv, m.headers).status_code == 202  # type: ignore[attr-defined]
    r = _boot(srv, m.headers)
    assert "Quota exceeded for ram: Requested 64, but already used 64 of 100 ram" in r.text  # type: ignore[attr-defined]


def test_metadata_items_quota(srv: Srv) -> None:
    m = new_member(srv)
    set_quota(srv, m.project_id, metadata_items=2)
    r = _boot(srv, m.headers, metadata={"a": "1", "b": "2", "c": "3"})
    assert r.status_code == 403  # type: ignore[attr-defined]
    assert "Maximum number of metadata items exceeds 2" in r.text  # type: ignore[attr-defined]
    sid = _boot(srv, m.headers, metadata={"a": "1"}).json()["server"]["id"]  # type: ignore[attr-defined]
    srv.set_row(sid, vm_state="active", task_state=None)
    body = {"metadata": {"b": "2", "c": "3"}}
    r = srv.client.post(f"/compute/v2.1/servers/{sid}/metadata", json=body, headers=m.headers)
    assert r.status_code == 403, r.text
    body = {"metadata": {"b": "2"}}
    r = srv.client.post(f"/compute/v2.1/servers/{sid}/metadata", json=body, headers=m.headers)
    assert r.status_code == 200, r.text


def test_key_pairs_quota_per_user(srv: Srv) -> None:
    m = new_member(srv)
    set_quota(srv, m.project_id, key_pairs=1)
    pub = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl q"
    body = {"keypair": {"name": unique("k"), "public_key": pub}}
    r = req(srv, "POST", "/os-keypairs", m.headers, "2.2", json=body)
    assert r.status_code == 201, r.text
    body = {"keypair": {"name": unique("k"), "public_key": pub}}
    r = req(srv, "POST", "/os-keypairs", m.headers, "2.2", json=body)
    assert r.status_code == 403
    assert r.json()["forbidden"]["message"] == "Quota exceeded, too many key pairs."


def test_resize_up_needs_quota(srv: Srv) -> None:
    m = new_member(srv)
    set_quota(srv, m.project_id, cores=2)
    sid = _boot(srv, m.headers).json()["server"]["id"]  # type: ignore[attr-defined]
    srv.set_row(sid, vm_state="active", task_state=None, host="h1", node="h1")
    big = _flavor(srv, vcpus=4)
    r = srv.client.post(
        f"/compute/v2.1/servers/{sid}/action",
        json={"resize": {"flavorRef": big}},
        headers=m.headers,
    )
    assert r.status_code == 403, r.text
    assert r.json()["forbidden"]["message"] == (
        "Quota exceeded for cores: Requested 3, but already used 1 of 2 cores"
    )


def _flavor(srv: Srv, **values: int) -> str:
    body = {"flavor": {"name": unique("qf"), "ram": 64, "vcpus": 1, "disk": 1, **values}}
    r = srv.client.post("/compute/v2.1/flavors", json=body, headers=srv.admin)
    assert r.status_code == 200, r.text
    return str(r.json()["flavor"]["id"])


def test_quota_class_sets(srv: Srv) -> None:
    r = req(srv, "GET", "/os-quota-class-sets/gold", srv.admin, "2.57")
    assert r.status_code == 200, r.text
    assert r.json()["quota_class_set"]["id"] == "gold"
    assert "server_groups" in r.json()["quota_class_set"]
    r = req(srv, "GET", "/os-quota-class-sets/gold", srv.admin)
    assert "server_groups" not in r.json()["quota_class_set"]  # before 2.50
    assert "floating_ips" in r.json()["quota_class_set"]
    m = new_member(srv)
    assert req(srv, "GET", "/os-quota-class-sets/default", m.headers).status_code == 403
    r = req(
        srv, "PUT", "/os-quota-class-sets/gold", srv.admin, "2.57",
        json={"quota_class_set": {"key_pairs": 7}},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["quota_class_set"]["key_pairs"] == 7 and "id" not in r.json()["quota_class_set"]


def test_default_class_is_the_fallback(srv: Srv) -> None:
    m = new_member(srv)
    old = req(srv, "GET", "/os-quota-class-sets/default", srv.admin, "2.57").json()
    try:
        r = req(
            srv, "PUT", "/os-quota-class-sets/default", srv.admin, "2.57",
            json={"quota_class_set": {"server_group_members": 9}},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        q = req(srv, "GET", f"/os-quota-sets/{m.project_id}", m.headers).json()["quota_set"]
        assert q["server_group_members"] == 9
    finally:
        was = old["quota_class_set"]["server_group_members"]
        req(
            srv, "PUT", "/os-quota-class-sets/default", srv.admin, "2.57",
            json={"quota_class_set": {"server_group_members": was}},
        )  # fmt: skip


def test_50_concurrent_creates_with_quota_10(srv: Srv) -> None:
    """The limit is never exceeded: exactly 10 of 50 concurrent creates succeed."""
    m = new_member(srv)
    set_quota(srv, m.project_id, instances=10)

    def one(_: int) -> int:
        return int(_boot(srv, m.headers).status_code)  # type: ignore[attr-defined]

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(one, range(50)))
    assert sorted(set(codes)) == [202, 403], codes
    assert codes.count(202) == 10
    with srv.state.db.session() as s:
        n = s.query(Instance).filter_by(project_id=m.project_id, deleted=False).count()
    assert n == 10
