"""/v3/credentials and OS-EC2: CRUD, filters, encryption at rest, EC2 ids and scope
keys, Keystone's 400/404/409, and one user never seeing another's credentials."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from stackbox.identity.models_extra import Credential
from tests.identity.conftest import Cloud, unique
from tests.identity.people import V3, member


def _blob(access: str | None = None) -> str:
    return json.dumps({"access": access or unique("a"), "secret": unique("s")})


def _create(cloud: Cloud, headers: dict, **kw: object) -> dict:
    r = cloud.client.post(f"{V3}/credentials", json={"credential": kw}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["credential"]


def test_crud_ec2_id_and_encrypted_at_rest(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    m = member(cloud, admin)
    blob = _blob("AK1" + unique("x"))
    cred = _create(
        cloud, admin, user_id=m.user["id"], project_id=m.project["id"], type="ec2", blob=blob
    )
    assert cred["id"] == hashlib.sha256(json.loads(blob)["access"].encode()).hexdigest()
    assert cred["blob"] == blob and cred["links"]["self"].endswith(f"/credentials/{cred['id']}")
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        row = s.scalar(select(Credential).where(Credential.id == cred["id"]))
        assert row is not None and "secret" not in row.encrypted_blob
    new = _blob()
    r = c.patch(f"{V3}/credentials/{cred['id']}", json={"credential": {"blob": new}}, headers=admin)
    assert r.status_code == 200 and json.loads(r.json()["credential"]["blob"]) == json.loads(new)
    assert (
        c.get(f"{V3}/credentials/{cred['id']}", headers=admin).json()["credential"]["blob"] == new
    )
    assert c.delete(f"{V3}/credentials/{cred['id']}", headers=admin).status_code == 204
    assert c.get(f"{V3}/credentials/{cred['id']}", headers=admin).status_code == 404


def test_bad_input(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    m = member(cloud, admin)
    uid, pid = m.user["id"], m.project["id"]
    bodies = [
        {"user_id": uid, "type": "ec2", "blob": _blob()},  # ec2 needs a project
        {"user_id": uid, "project_id": pid, "type": "ec2", "blob": "not json"},
        {"user_id": uid, "project_id": pid, "type": "ec2", "blob": json.dumps({"secret": "x"})},
        {"user_id": uid, "type": "cert"},  # no blob
    ]
    for body in bodies:
        r = c.post(f"{V3}/credentials", json={"credential": body}, headers=admin)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"]["code"] == 400
    blob = _blob()
    _create(cloud, admin, user_id=uid, project_id=pid, type="ec2", blob=blob)
    r = c.post(
        f"{V3}/credentials",
        json={"credential": {"user_id": uid, "project_id": pid, "type": "ec2", "blob": blob}},
        headers=admin,
    )
    assert r.status_code == 409
    cred = _create(cloud, admin, user_id=uid, project_id=pid, type="ec2", blob=_blob())
    scoped = json.dumps({**json.loads(cred["blob"]), "trust_id": "t1"})
    r = c.patch(
        f"{V3}/credentials/{cred['id']}", json={"credential": {"blob": scoped}}, headers=admin
    )
    assert r.status_code == 400 and "trust_id" in r.json()["error"]["message"]
    assert c.get(f"{V3}/credentials/nope", headers=admin).status_code == 404


def test_users_see_only_their_own(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    a, b = member(cloud, admin), member(cloud, admin)
    mine = _create(cloud, a.headers, user_id=a.user["id"], type="cert", blob="A")
    theirs = _create(cloud, admin, user_id=b.user["id"], type="cert", blob="B")
    r = c.post(
        f"{V3}/credentials",
        json={"credential": {"user_id": b.user["id"], "type": "cert", "blob": "x"}},
        headers=a.headers,
    )
    assert r.status_code == 403
    listed = {x["id"] for x in c.get(f"{V3}/credentials", headers=a.headers).json()["credentials"]}
    assert mine["id"] in listed and theirs["id"] not in listed
    for method in ("get", "delete"):
        r = getattr(c, method)(f"{V3}/credentials/{theirs['id']}", headers=a.headers)
        assert r.status_code == 403
    r = c.patch(
        f"{V3}/credentials/{mine['id']}",
        json={"credential": {"user_id": b.user["id"]}},
        headers=a.headers,
    )
    assert r.status_code == 403  # cannot give a credential away
    everyone = c.get(f"{V3}/credentials?user_id={b.user['id']}&type=cert", headers=admin).json()
    assert [x["id"] for x in everyone["credentials"]] == [theirs["id"]]


def test_ec2_lifecycle_and_visibility(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    m, other = member(cloud, admin), member(cloud, admin)
    base = f"{V3}/users/{m.user['id']}/credentials/OS-EC2"
    r = c.post(base, json={"tenant_id": m.project["id"]}, headers=m.headers)
    assert r.status_code == 201, r.text
    ec2 = r.json()["credential"]
    assert ec2["user_id"] == m.user["id"] and ec2["tenant_id"] == m.project["id"]
    assert ec2["access"] and ec2["secret"] and ec2["trust_id"] is None
    shown = c.get(f"{base}/{ec2['access']}", headers=m.headers).json()["credential"]
    assert shown == ec2
    assert [x["access"] for x in c.get(base, headers=m.headers).json()["credentials"]] == [
        ec2["access"]
    ]
    # Also a v3 credential of type ec2.
    as_v3 = c.get(f"{V3}/credentials?type=ec2", headers=m.headers).json()["credentials"]
    assert [json.loads(x["blob"])["access"] for x in as_v3] == [ec2["access"]]
    # Another user can neither list, read nor delete it.
    assert c.get(base, headers=other.headers).status_code == 403
    assert c.get(f"{base}/{ec2['access']}", headers=other.headers).status_code == 403
    assert c.delete(f"{base}/{ec2['access']}", headers=other.headers).status_code == 403
    r = c.post(base, json={"tenant_id": m.project["id"]}, headers=other.headers)
    assert r.status_code == 403
    assert c.post(base, json={"tenant_id": "nope"}, headers=m.headers).status_code == 404
    assert c.post(base, json={}, headers=m.headers).status_code == 400
    assert c.delete(f"{base}/{ec2['access']}", headers=m.headers).status_code == 204
    assert c.get(f"{base}/{ec2['access']}", headers=m.headers).status_code == 404


def test_deleting_the_user_or_project_deletes_credentials(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    a, b = member(cloud, admin), member(cloud, admin)
    by_user = _create(cloud, admin, user_id=a.user["id"], type="cert", blob="x")
    by_project = _create(
        cloud, admin, user_id=b.user["id"], project_id=b.project["id"], type="ec2", blob=_blob()
    )
    assert c.delete(f"{V3}/users/{a.user['id']}", headers=admin).status_code == 204
    assert c.delete(f"{V3}/projects/{b.project['id']}", headers=admin).status_code == 204
    for cred in (by_user, by_project):
        assert c.get(f"{V3}/credentials/{cred['id']}", headers=admin).status_code == 404
