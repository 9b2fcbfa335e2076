"""Server tags (2.26+): list, replace, delete all, one tag's GET/PUT/DELETE, limits,
and 404 before 2.26."""

from __future__ import annotations

from tests.compute.api.servers_helpers import Srv, srv_fixture  # noqa: F401

MV = "2.26"


def _active_server(srv: Srv) -> str:
    sid = srv.boot()
    srv.set_row(sid, vm_state="active", task_state=None)
    return sid


def test_tags_crud(srv: Srv) -> None:
    sid = _active_server(srv)
    path = f"/servers/{sid}/tags"
    assert srv.get(path, mv=MV).json() == {"tags": []}
    r = srv.put(path, {"tags": ["b", "a", "b"]}, mv=MV)
    assert r.status_code == 200 and r.json() == {"tags": ["a", "b"]}
    r = srv.put(f"{path}/c", None, mv=MV)
    assert r.status_code == 201 and r.content == b""
    assert r.headers["Location"].endswith(f"/compute/v2.1/servers/{sid}/tags/c")
    assert srv.put(f"{path}/c", None, mv=MV).status_code == 204
    assert srv.get(f"{path}/c", mv=MV).status_code == 204
    r = srv.get(f"{path}/zz", mv=MV)
    assert r.status_code == 404
    assert srv.get(f"/servers/{sid}", mv=MV).json()["server"]["tags"] == ["a", "b", "c"]
    assert srv.delete(f"{path}/a", mv=MV).status_code == 204
    assert srv.delete(f"{path}/a", mv=MV).status_code == 404
    assert srv.get(path, mv=MV).json() == {"tags": ["b", "c"]}
    assert srv.delete(path, mv=MV).status_code == 204
    assert srv.get(path, mv=MV).json() == {"tags": []}


def test_tag_rules(srv: Srv) -> None:
    sid = _active_server(srv)
    path = f"/servers/{sid}/tags"
    assert srv.get(path).status_code == 404  # before 2.26
    assert srv.put(path, {"tags": ["a,b"]}, mv=MV).status_code == 400
    assert srv.put(path, {"tags": ["x" * 61]}, mv=MV).status_code == 400
    assert srv.put(path, {"tags": [f"t{i}" for i in range(51)]}, mv=MV).status_code == 400
    assert srv.put(path, {"tags": [f"t{i}" for i in range(50)]}, mv=MV).status_code == 200
    r = srv.put(f"{path}/one-more", None, mv=MV)
    assert r.status_code == 400
    assert "50" in r.json()["badRequest"]["message"]
    building = srv.boot()
    assert srv.put(f"/servers/{building}/tags/x", None, mv=MV).status_code == 409
    assert srv.get(f"/servers/{building}/tags", mv=MV).status_code == 200
    other = srv.boot(who=srv.admin)
    assert srv.get(f"/servers/{other}/tags", mv=MV).status_code == 404
