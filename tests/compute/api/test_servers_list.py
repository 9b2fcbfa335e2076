"""GET /v2.1/servers and /servers/detail: project isolation, all_tenants, filters,
sorting and paging (Nova's rules)."""

from __future__ import annotations

import datetime as dt

from tests.compute.api.servers_helpers import (  # noqa: F401
    MAXMV,
    Srv,
    srv_fixture,
    unique,
)


def _names(r: object) -> list[str]:
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    return [s["name"] for s in r.json()["servers"]]  # type: ignore[attr-defined]


def test_list_shape_matches_sample(srv: Srv) -> None:
    name = unique("shape")
    sid = srv.boot(name=name)
    r = srv.get(f"/servers?name={name}")
    entry = r.json()["servers"][0]
    assert list(entry) == ["id", "name", "links"]
    assert entry["id"] == sid
    assert [link["rel"] for link in entry["links"]] == ["self", "bookmark"]
    assert entry["links"][0]["href"].endswith(f"/compute/v2.1/servers/{sid}")


def test_projects_are_isolated(srv: Srv) -> None:
    admins = unique("admin-only")
    admin_sid = srv.boot(who=srv.admin, name=admins)
    demos = unique("demo-only")
    demo_sid = srv.boot(name=demos)
    assert _names(srv.get(f"/servers?name={admins}")) == []
    assert srv.get(f"/servers/{admin_sid}").status_code == 404
    assert srv.get(f"/servers/{admin_sid}").json()["itemNotFound"]["message"] == (
        f"Instance {admin_sid} could not be found."
    )
    # the admin sees only its own project unless it asks for all tenants
    assert _names(srv.get(f"/servers?name={demos}", who=srv.admin)) == []
    assert _names(srv.get(f"/servers/detail?all_tenants=1&name={demos}", who=srv.admin)) == [demos]
    r = srv.get(f"/servers?all_tenants&project_id={srv.demo_ids[1]}&name={demos}", srv.admin)
    assert _names(r) == [demos]
    assert srv.get(f"/servers/{demo_sid}", who=srv.admin).status_code == 200
    r = srv.get("/servers/detail?all_tenants=True")
    assert r.status_code == 403
    assert "get_all_tenants" in r.json()["forbidden"]["message"]


def test_filters(srv: Srv) -> None:
    base = unique("flt")
    a = srv.boot(name=f"{base}-a", key_name=srv.keypair)
    b = srv.boot(name=f"{base}-b", flavorRef=srv.flavors["zero"])
    srv.set_row(b, vm_state="active", task_state=None, locked=True)
    assert sorted(_names(srv.get(f"/servers?name={base}"))) == [f"{base}-a", f"{base}-b"]
    assert _names(srv.get(f"/servers?name={base}-a$")) == [f"{base}-a"]
    assert _names(srv.get(f"/servers/detail?name={base}&status=ACTIVE")) == [f"{base}-b"]
    assert _names(srv.get(f"/servers/detail?name={base}&status=BUILD")) == [f"{base}-a"]
    assert _names(srv.get(f"/servers?name={base}&status=BOGUS")) == []
    srv.set_row(b, task_state="rebooting")
    assert _names(srv.get(f"/servers?name={base}&status=REBOOT")) == [f"{base}-b"]
    assert _names(srv.get(f"/servers?name={base}&status=active")) == [f"{base}-b"]
    srv.set_row(b, task_state=None)
    assert _names(srv.get(f"/servers?name={base}&flavor={srv.flavors['zero']}")) == [f"{base}-b"]
    assert _names(srv.get(f"/servers?name={base}&image={srv.images['huge']}")) == []
    r = srv.get(f"/servers?name={base}&locked=true", mv="2.73")
    assert _names(r) == [f"{base}-b"]
    assert srv.get("/servers?locked=maybe", mv="2.73").status_code == 400
    r = srv.get(f"/servers?name={base}&key_name={srv.keypair}", mv="2.83")
    assert _names(r) == [f"{base}-a"]
    # host is an admin filter: a user's is dropped, an admin's applies
    assert len(_names(srv.get(f"/servers?name={base}&host=nowhere"))) == 2
    r = srv.get(f"/servers?all_tenants=1&name={base}&host=nowhere", who=srv.admin)
    assert _names(r) == []
    assert a


def test_tag_filters(srv: Srv) -> None:
    base = unique("tagf")
    srv.boot(name=f"{base}-1", mv="2.52", networks="none", tags=["red", "big"])
    srv.boot(name=f"{base}-2", mv="2.52", networks="none", tags=["red"])
    srv.boot(name=f"{base}-3", mv="2.52", networks="none", tags=["blue"])

    def q(extra: str) -> list[str]:
        return sorted(_names(srv.get(f"/servers?name={base}&{extra}", mv="2.26")))

    assert q("tags=red,big") == [f"{base}-1"]
    assert q("tags-any=big,blue") == [f"{base}-1", f"{base}-3"]
    assert q("not-tags=red,big") == [f"{base}-2", f"{base}-3"]
    assert q("not-tags-any=red") == [f"{base}-3"]


def test_changes_since_includes_deleted(srv: Srv) -> None:
    base = unique("chg")
    before = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sid = srv.boot(name=base)
    srv.set_row(sid, deleted=True, vm_state="deleted", task_state=None)
    assert _names(srv.get(f"/servers?name={base}")) == []
    r = srv.get(f"/servers/detail?name={base}&changes-since={before}")
    assert [(s["name"], s["status"]) for s in r.json()["servers"]] == [(base, "DELETED")]
    assert srv.get("/servers?changes-since=yesterday").status_code == 400
    future = "2999-01-01T00:00:00Z"
    assert (
        srv.get(f"/servers?changes-since={future}&changes-before={before}", mv="2.66").status_code
        == 400
    )


def test_sort_and_paging(srv: Srv) -> None:
    base = unique("page")
    for suffix in ("c", "a", "b"):
        srv.boot(name=f"{base}-{suffix}")
    assert _names(srv.get(f"/servers?name={base}")) == [f"{base}-b", f"{base}-a", f"{base}-c"]
    r = srv.get(f"/servers?name={base}&sort_key=display_name&sort_dir=asc&limit=2")
    body = r.json()
    assert [s["name"] for s in body["servers"]] == [f"{base}-a", f"{base}-b"]
    nxt = body["servers_links"][0]
    assert nxt["rel"] == "next" and f"marker={body['servers'][1]['id']}" in nxt["href"]
    marker = body["servers"][1]["id"]
    r = srv.get(f"/servers?name={base}&sort_key=display_name&sort_dir=asc&marker={marker}")
    assert _names(r) == [f"{base}-c"]
    assert "servers_links" not in r.json()
    r = srv.get("/servers?marker=no-such-server")
    assert r.status_code == 400
    assert r.json()["badRequest"]["message"] == "marker [no-such-server] not found"
    assert srv.get("/servers?sort_key=color").status_code == 400
    assert srv.get("/servers?sort_key=host").status_code == 403
    assert srv.get("/servers?sort_key=host", who=srv.admin).status_code == 200
    assert srv.get("/servers?limit=-1").status_code == 400


def test_cli_list_query_is_accepted(srv: Srv) -> None:
    name = unique("cli")
    srv.boot(name=name)
    r = srv.get("/servers/detail?deleted=False", mv=MAXMV)
    assert name in _names(r)
