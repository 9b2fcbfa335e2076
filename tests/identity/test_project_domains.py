"""Projects acting as domains (`is_domain: true`) and Keystone's 404 for a missing
domain when creating users, projects and groups."""

from __future__ import annotations

from tests.identity.conftest import Cloud, unique
from tests.identity.people import V3, member


def test_is_domain_project_is_a_domain(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    name = unique("dp")
    r = c.post(f"{V3}/projects", json={"project": {"name": name, "is_domain": True}}, headers=admin)
    assert r.status_code == 201, r.text
    p = r.json()["project"]
    assert p["is_domain"] is True and p["domain_id"] is None and p["parent_id"] is None
    assert c.get(f"{V3}/domains/{p['id']}", headers=admin).json()["domain"]["name"] == name
    listed = c.get(f"{V3}/projects?is_domain=true", headers=admin).json()["projects"]
    assert p["id"] in {x["id"] for x in listed}
    assert c.get(f"{V3}/projects/{p['id']}", headers=admin).json()["project"] == p
    # Projects can live in it.
    r = c.post(
        f"{V3}/projects",
        json={"project": {"name": unique("p"), "domain_id": p["id"]}},
        headers=admin,
    )
    assert r.status_code == 201 and r.json()["project"]["parent_id"] == p["id"]
    dup = c.post(
        f"{V3}/projects", json={"project": {"name": name, "is_domain": True}}, headers=admin
    )
    assert dup.status_code == 409
    assert c.delete(f"{V3}/projects/{p['id']}", headers=admin).status_code == 403  # enabled
    r = c.patch(f"{V3}/projects/{p['id']}", json={"project": {"enabled": False}}, headers=admin)
    assert r.status_code == 200 and r.json()["project"]["enabled"] is False
    assert c.delete(f"{V3}/projects/{p['id']}", headers=admin).status_code == 204
    assert c.get(f"{V3}/domains/{p['id']}", headers=admin).status_code == 404


def test_is_domain_errors(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    body = {"name": unique("dp"), "is_domain": True, "parent_id": "default"}
    assert c.post(f"{V3}/projects", json={"project": body}, headers=admin).status_code == 400
    m = member(cloud, admin)
    body = {"name": unique("dp"), "is_domain": True}
    assert c.post(f"{V3}/projects", json={"project": body}, headers=m.headers).status_code == 403
    assert (
        c.patch(
            f"{V3}/projects/default", json={"project": {"enabled": False}}, headers=admin
        ).status_code
        == 403
    )


def test_missing_domain_is_404(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    for kind in ("users", "projects", "groups"):
        body = {kind[:-1]: {"name": unique("x"), "domain_id": "no-such-domain"}}
        r = c.post(f"{V3}/{kind}", json=body, headers=admin)
        assert r.status_code == 404, (kind, r.text)
        assert r.json()["error"]["message"] == "Could not find domain: no-such-domain."
