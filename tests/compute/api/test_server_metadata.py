"""Server metadata: list, merge, replace, one item's GET/PUT/DELETE, the 128-item limit
and the 409s for locked or busy servers."""

from __future__ import annotations

from tests.compute.api.servers_helpers import Srv, srv_fixture  # noqa: F401


def _active_server(srv: Srv, **meta: str) -> str:
    sid = srv.boot(metadata=meta)
    srv.set_row(sid, vm_state="active", task_state=None)
    return sid


def test_metadata_crud(srv: Srv) -> None:
    sid = _active_server(srv, a="1")
    path = f"/servers/{sid}/metadata"
    assert srv.get(path).json() == {"metadata": {"a": "1"}}
    r = srv.client.post(f"/compute/v2.1{path}", json={"metadata": {"b": "2"}}, headers=srv.demo)
    assert r.status_code == 200 and r.json() == {"metadata": {"a": "1", "b": "2"}}
    r = srv.put(path, {"metadata": {"c": "3", "a": "x"}})
    assert r.status_code == 200 and r.json() == {"metadata": {"c": "3", "a": "x"}}
    assert srv.get(path).json() == {"metadata": {"a": "x", "c": "3"}}
    assert srv.get(f"{path}/c").json() == {"meta": {"c": "3"}}
    r = srv.get(f"{path}/nope")
    assert r.status_code == 404
    assert r.json()["itemNotFound"]["message"] == "Metadata item was not found"
    assert srv.put(f"{path}/d", {"meta": {"d": "4"}}).json() == {"meta": {"d": "4"}}
    r = srv.put(f"{path}/d", {"meta": {"e": "5"}})
    assert r.status_code == 400
    assert r.json()["badRequest"]["message"] == "Request body and URI mismatch"
    r = srv.put(f"{path}/d", {"meta": {"d": "5", "e": "5"}})
    assert r.json()["badRequest"]["message"] == "Request body contains too many items"
    assert srv.delete(f"{path}/d").status_code == 204
    assert srv.delete(f"{path}/d").status_code == 404
    assert srv.get(f"/servers/{sid}").json()["server"]["metadata"] == {"a": "x", "c": "3"}


def test_metadata_limits_and_isolation(srv: Srv) -> None:
    sid = _active_server(srv)
    path = f"/servers/{sid}/metadata"
    r = srv.put(path, {"metadata": {f"k{i}": "v" for i in range(129)}})
    assert r.status_code == 403
    assert "128" in r.json()["forbidden"]["message"]
    assert srv.put(path, {"metadata": {"k": "v" * 256}}).status_code == 400
    assert srv.put(path, {"nometa": {}}).status_code == 400
    assert srv.get(path, who=srv.admin).status_code == 200  # admins see every project
    other = srv.boot(who=srv.admin)
    assert srv.get(f"/servers/{other}/metadata").status_code == 404


def test_metadata_conflicts(srv: Srv) -> None:
    building = srv.boot()
    r = srv.put(f"/servers/{building}/metadata", {"metadata": {"a": "1"}})
    assert r.status_code == 409
    assert r.json()["conflictingRequest"]["message"] == (
        f"Cannot 'update metadata' instance {building} while it is in vm_state building"
    )
    locked = _active_server(srv)
    srv.set_row(locked, locked=True, locked_by="owner")
    r = srv.put(f"/servers/{locked}/metadata", {"metadata": {"a": "1"}})
    assert r.status_code == 409
    assert r.json()["conflictingRequest"]["message"] == f"Instance {locked} is locked"
    r = srv.put(f"/servers/{locked}/metadata", {"metadata": {"a": "1"}}, who=srv.admin)
    assert r.status_code == 200
