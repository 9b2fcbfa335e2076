"""/v3/policies: CRUD of stored policy documents, admin-only writes, Keystone's 400/404."""

from __future__ import annotations

from tests.identity.conftest import Cloud, unique
from tests.identity.people import V3, member


def test_crud_and_filter(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    kind = unique("type")
    r = c.post(f"{V3}/policies", json={"policy": {"blob": "{}", "type": kind}}, headers=admin)
    assert r.status_code == 201
    p = r.json()["policy"]
    assert (p["blob"], p["type"]) == ("{}", kind) and p["links"]["self"].endswith(p["id"])
    listed = c.get(f"{V3}/policies?type={kind}", headers=admin).json()["policies"]
    assert [x["id"] for x in listed] == [p["id"]]
    r = c.patch(f"{V3}/policies/{p['id']}", json={"policy": {"type": "x"}}, headers=admin)
    assert r.status_code == 200
    assert c.get(f"{V3}/policies/{p['id']}", headers=admin).json()["policy"] == {
        **p,
        "type": "x",
    }
    assert c.delete(f"{V3}/policies/{p['id']}", headers=admin).status_code == 204
    assert c.get(f"{V3}/policies/{p['id']}", headers=admin).status_code == 404


def test_errors_and_admin_only(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    for body in ({"policy": {"blob": "x"}}, {"policy": {"type": "t"}}, {"policy": {}}, {}):
        assert c.post(f"{V3}/policies", json=body, headers=admin).status_code == 400
    p = c.post(f"{V3}/policies", json={"policy": {"blob": "b", "type": "t"}}, headers=admin).json()[
        "policy"
    ]
    assert (
        c.patch(f"{V3}/policies/{p['id']}", json={"policy": {}}, headers=admin).status_code == 400
    )
    m = member(cloud, admin)
    assert c.get(f"{V3}/policies", headers=m.headers).status_code == 403
    assert c.get(f"{V3}/policies/{p['id']}", headers=m.headers).status_code == 403
    r = c.post(f"{V3}/policies", json={"policy": {"blob": "b", "type": "t"}}, headers=m.headers)
    assert r.status_code == 403
    assert c.delete(f"{V3}/policies/{p['id']}", headers=m.headers).status_code == 403
