"""OS-OAUTH1 consumers: CRUD, the secret shown once and never updatable, admin only."""

from __future__ import annotations

from tests.identity.conftest import Cloud
from tests.identity.people import V3, member

BASE = f"{V3}/OS-OAUTH1/consumers"


def test_crud(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    r = c.post(BASE, json={"consumer": {"description": "d"}}, headers=admin)
    assert r.status_code == 201
    made = r.json()["consumer"]
    assert made["secret"] and made["description"] == "d"
    shown = c.get(f"{BASE}/{made['id']}", headers=admin).json()["consumer"]
    assert "secret" not in shown and shown["links"] == made["links"]
    assert made["id"] in {x["id"] for x in c.get(BASE, headers=admin).json()["consumers"]}
    r = c.patch(f"{BASE}/{made['id']}", json={"consumer": {"description": "e"}}, headers=admin)
    assert r.json()["consumer"]["description"] == "e"
    r = c.patch(f"{BASE}/{made['id']}", json={"consumer": {"secret": "x"}}, headers=admin)
    assert r.status_code == 400
    assert c.delete(f"{BASE}/{made['id']}", headers=admin).status_code == 204
    assert c.get(f"{BASE}/{made['id']}", headers=admin).status_code == 404


def test_admin_only(cloud: Cloud, admin: dict) -> None:
    m = member(cloud, admin)
    c = cloud.client
    assert c.get(BASE, headers=m.headers).status_code == 403
    assert c.post(BASE, json={"consumer": {}}, headers=m.headers).status_code == 403
