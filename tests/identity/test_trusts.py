"""OS-TRUST: creating trusts (only the trustor, only roles it holds), reading them
(trustor, trustee, admin; nobody else), limits (expiry, uses), and trust-scoped tokens
(delegated roles only, impersonation, no re-scoping, gone with the trust)."""

from __future__ import annotations

import datetime as dt

from tests.identity.conftest import Cloud, unique
from tests.identity.people import V3, Member, member

TRUSTS = f"{V3}/OS-TRUST/trusts"


def _role(cloud: Cloud, admin: dict) -> dict:
    r = cloud.client.post(f"{V3}/roles", json={"role": {"name": unique("r")}}, headers=admin)
    return r.json()["role"]


def _trust(cloud: Cloud, trustor: Member, trustee: Member, role: dict, **kw: object) -> dict:
    body = {
        "trustor_user_id": trustor.user["id"],
        "trustee_user_id": trustee.user["id"],
        "project_id": trustor.project["id"],
        "impersonation": False,
        "roles": [{"name": role["name"]}],
        **kw,
    }
    r = cloud.client.post(TRUSTS, json={"trust": body}, headers=trustor.headers)
    assert r.status_code == 201, r.text
    return r.json()["trust"]


def _trust_token(cloud: Cloud, who: Member, trust_id: str) -> tuple[int, str | None]:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": who.user["id"], "password": who.password}},
            },
            "scope": {"OS-TRUST:trust": {"id": trust_id}},
        }
    }
    r = cloud.client.post(f"{V3}/auth/tokens?nocatalog", json=body)
    return r.status_code, r.headers.get("X-Subject-Token")


def _setup(cloud: Cloud, admin: dict) -> tuple[Member, Member, dict, dict]:
    trustor, trustee = member(cloud, admin), member(cloud, admin)
    delegated, kept = _role(cloud, admin), _role(cloud, admin)
    for role in (delegated, kept):
        url = f"{V3}/projects/{trustor.project['id']}/users/{trustor.user['id']}/roles/{role['id']}"
        assert cloud.client.put(url, headers=admin).status_code == 204
    return trustor, trustee, delegated, kept


def test_create_show_roles_and_delete(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    trustor, trustee, delegated, kept = _setup(cloud, admin)
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).replace(microsecond=0)
    t = _trust(
        cloud, trustor, trustee, delegated, expires_at=expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    assert t["expires_at"] == expires.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    assert [r["id"] for r in t["roles"]] == [delegated["id"]]
    assert t["links"]["self"].endswith(f"/v3/OS-TRUST/trusts/{t['id']}")
    for who in (trustor, trustee):
        assert c.get(f"{TRUSTS}/{t['id']}", headers=who.headers).json()["trust"]["id"] == t["id"]
    roles = c.get(f"{TRUSTS}/{t['id']}/roles", headers=trustee.headers).json()["roles"]
    assert [r["name"] for r in roles] == [delegated["name"]]
    assert (
        c.head(f"{TRUSTS}/{t['id']}/roles/{delegated['id']}", headers=trustor.headers).status_code
        == 200
    )
    assert (
        c.get(f"{TRUSTS}/{t['id']}/roles/{kept['id']}", headers=trustor.headers).status_code == 404
    )
    listed = c.get(f"{TRUSTS}?trustor_user_id={trustor.user['id']}", headers=trustor.headers)
    assert [x["id"] for x in listed.json()["trusts"]] == [t["id"]]
    assert "roles" not in listed.json()["trusts"][0]
    assert c.delete(f"{TRUSTS}/{t['id']}", headers=trustee.headers).status_code == 403
    assert c.delete(f"{TRUSTS}/{t['id']}", headers=trustor.headers).status_code == 204
    assert c.get(f"{TRUSTS}/{t['id']}", headers=trustor.headers).status_code == 404


def test_bad_input_and_strangers(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    trustor, trustee, delegated, _kept = _setup(cloud, admin)
    stranger = member(cloud, admin)
    base = {
        "trustor_user_id": trustor.user["id"],
        "trustee_user_id": trustee.user["id"],
        "project_id": trustor.project["id"],
        "impersonation": True,
        "roles": [{"id": delegated["id"]}],
    }
    cases = [
        ({**base, "expires_at": "bad.123Z"}, 400),
        ({**base, "remaining_uses": 0}, 400),
        ({**base, "roles": []}, 403),
        ({**base, "trustee_user_id": "nope"}, 404),
        ({**base, "roles": [{"name": unique("none")}]}, 404),
        ({**base, "roles": [{"id": _role(cloud, admin)["id"]}]}, 404),  # not the trustor's
        ({k: v for k, v in base.items() if k != "impersonation"}, 400),
    ]
    for body, code in cases:
        r = c.post(TRUSTS, json={"trust": body}, headers=trustor.headers)
        assert r.status_code == code, (body, r.text)
    # Only the trustor creates; only admins list everything.
    assert c.post(TRUSTS, json={"trust": base}, headers=stranger.headers).status_code == 403
    assert c.get(TRUSTS, headers=trustor.headers).status_code == 403
    t = _trust(cloud, trustor, trustee, delegated)
    assert c.get(f"{TRUSTS}/{t['id']}", headers=stranger.headers).status_code == 403
    assert c.get(f"{TRUSTS}/{t['id']}/roles", headers=stranger.headers).status_code == 403
    q = f"{TRUSTS}?trustor_user_id={trustor.user['id']}"
    assert c.get(q, headers=stranger.headers).status_code == 403
    assert t["id"] in {x["id"] for x in c.get(TRUSTS, headers=admin).json()["trusts"]}


def test_trust_scoped_tokens(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    trustor, trustee, delegated, _kept = _setup(cloud, admin)
    t = _trust(cloud, trustor, trustee, delegated, impersonation=True, remaining_uses=2)
    code, tok = _trust_token(cloud, trustee, t["id"])
    assert code == 201 and tok
    payload = c.get(f"{V3}/auth/tokens", headers={**admin, "X-Subject-Token": tok}).json()["token"]
    assert payload["user"]["id"] == trustor.user["id"]  # impersonation
    assert payload["project"]["id"] == trustor.project["id"]
    assert {r["name"] for r in payload["roles"]} == {delegated["name"]}
    assert payload["OS-TRUST:trust"] == {
        "id": t["id"],
        "trustor_user": {"id": trustor.user["id"]},
        "trustee_user": {"id": trustee.user["id"]},
        "impersonation": True,
    }
    # Not for anyone else; not re-scoped; limited uses.
    assert _trust_token(cloud, trustor, t["id"])[0] == 403
    rescope = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": tok}},
            "scope": {"project": {"id": trustor.project["id"]}},
        }
    }
    assert c.post(f"{V3}/auth/tokens", json=rescope).status_code == 403
    assert _trust_token(cloud, trustee, t["id"])[0] == 201
    assert _trust_token(cloud, trustee, t["id"])[0] == 401  # both uses spent
    assert c.get(f"{V3}/auth/tokens", headers={**admin, "X-Subject-Token": tok}).status_code == 200
    assert c.get(f"{TRUSTS}/{t['id']}", headers=trustor.headers).status_code == 404  # spent
    # Deleting the trust ends its tokens.
    assert c.delete(f"{TRUSTS}/{t['id']}", headers=trustor.headers).status_code == 204
    assert c.get(f"{V3}/auth/tokens", headers={**admin, "X-Subject-Token": tok}).status_code == 404


def test_trust_token_without_impersonation_is_the_trustee(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    trustor, trustee, delegated, _kept = _setup(cloud, admin)
    t = _trust(cloud, trustor, trustee, delegated)
    code, tok = _trust_token(cloud, trustee, t["id"])
    assert code == 201 and tok
    info = c.get(f"{V3}/auth/tokens", headers={**admin, "X-Subject-Token": tok})
    assert info.json()["token"]["user"]["id"] == trustee.user["id"]
    # Once the trustor loses the role, the trust gives nothing.
    url = (
        f"{V3}/projects/{trustor.project['id']}/users/{trustor.user['id']}/roles/{delegated['id']}"
    )
    assert c.delete(url, headers=admin).status_code == 204
    assert _trust_token(cloud, trustee, t["id"])[0] == 403
