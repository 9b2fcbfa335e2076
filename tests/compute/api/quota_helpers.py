"""Helpers of the quota tests: a fresh project with a member of its own (so limits set
by a test never touch the session-wide "demo" project the other server tests boot in)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.compute.api.servers_helpers import Srv, _token, _token_ids, unique

API = "/compute/v2.1"


@dataclass
class Member:
    headers: dict[str, str]
    user_id: str
    project_id: str
    project_name: str


def new_member(srv: Srv, role: str = "member") -> Member:
    c, a = srv.client, srv.admin
    pname, uname, pw = unique("qp"), unique("qu"), "secret-" + unique("pw")
    r = c.post("/identity/v3/projects", json={"project": {"name": pname}}, headers=a)
    assert r.status_code == 201, r.text
    pid = r.json()["project"]["id"]
    body = {"user": {"name": uname, "password": pw, "default_project_id": pid}}
    r = c.post("/identity/v3/users", json=body, headers=a)
    assert r.status_code == 201, r.text
    uid = r.json()["user"]["id"]
    roles = c.get(f"/identity/v3/roles?name={role}", headers=a).json()["roles"]
    r = c.put(f"/identity/v3/projects/{pid}/users/{uid}/roles/{roles[0]['id']}", headers=a)
    assert r.status_code == 204, r.text
    tok = _token(c, uname, pw, pname)
    assert _token_ids(c, tok) == (uid, pid)
    return Member({"X-Auth-Token": tok}, uid, pid, pname)


def req(
    srv: Srv, method: str, path: str, who: dict[str, str], mv: str | None = None, **kw: Any
) -> Any:
    headers = {**who, "OpenStack-API-Version": f"compute {mv}"} if mv else dict(who)
    return srv.client.request(method, API + path, headers=headers, **kw)


def set_quota(srv: Srv, project_id: str, **values: Any) -> dict:
    r = req(srv, "PUT", f"/os-quota-sets/{project_id}", srv.admin, json={"quota_set": values})
    assert r.status_code == 200, r.text
    return dict(r.json()["quota_set"])
