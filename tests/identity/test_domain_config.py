"""Domain-specific configuration: whole config, groups and options; Keystone's
whitelist (403 otherwise), hidden sensitive options, 404s, defaults, admin only."""

from __future__ import annotations

from tests.identity.conftest import Cloud, unique
from tests.identity.people import V3, member

CONFIG = {
    "identity": {"driver": "ldap"},
    "ldap": {"url": "ldap://h:389/", "user_tree_dn": "ou=Users,dc=x"},
}


def _domain(cloud: Cloud, admin: dict) -> str:
    r = cloud.client.post(f"{V3}/domains", json={"domain": {"name": unique("d")}}, headers=admin)
    return r.json()["domain"]["id"]


def test_config_lifecycle(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    base = f"{V3}/domains/{_domain(cloud, admin)}/config"
    assert c.get(base, headers=admin).status_code == 404
    r = c.put(base, json={"config": CONFIG}, headers=admin)
    assert r.status_code == 201 and r.json()["config"] == CONFIG
    assert c.get(base, headers=admin).json()["config"] == CONFIG
    assert c.get(f"{base}/ldap", headers=admin).json()["config"] == {"ldap": CONFIG["ldap"]}
    assert c.get(f"{base}/ldap/url", headers=admin).json()["config"] == {"url": "ldap://h:389/"}
    r = c.patch(f"{base}/identity", json={"config": {"identity": {"list_limit": 5}}}, headers=admin)
    assert r.json()["config"]["identity"] == {"driver": "ldap", "list_limit": 5}
    r = c.patch(f"{base}/identity/driver", json={"config": {"driver": "sql"}}, headers=admin)
    assert r.json()["config"]["identity"]["driver"] == "sql"
    # A sensitive option is kept but never shown.
    r = c.patch(base, json={"config": {"ldap": {"password": "s3cret"}}}, headers=admin)
    assert r.status_code == 200 and "password" not in r.json()["config"]["ldap"]
    assert c.delete(f"{base}/identity/driver", headers=admin).status_code == 204
    assert c.get(f"{base}/identity/driver", headers=admin).status_code == 404
    assert c.delete(f"{base}/identity", headers=admin).status_code == 204
    assert c.get(f"{base}/identity", headers=admin).status_code == 404
    r = c.put(base, json={"config": {"identity": {"driver": "x"}}}, headers=admin)
    assert r.status_code == 200 and r.json()["config"] == {"identity": {"driver": "x"}}
    assert c.delete(base, headers=admin).status_code == 204
    assert c.get(base, headers=admin).status_code == 404


def test_errors(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    base = f"{V3}/domains/{_domain(cloud, admin)}/config"
    for config in ({}, {"nova": {"x": 1}}, {"ldap": {"nope": 1}}, {"ldap": {}}, {"ldap": "x"}):
        r = c.put(base, json={"config": config}, headers=admin)
        assert r.status_code == 403, (config, r.text)
        assert "Invalid domain specific configuration" in r.json()["error"]["message"]
    assert (
        c.put(f"{V3}/domains/nope/config", json={"config": CONFIG}, headers=admin).status_code
        == 404
    )
    c.put(base, json={"config": {"identity": {"driver": "ldap"}}}, headers=admin)
    r = c.patch(f"{base}/ldap", json={"config": {"ldap": {"url": "u"}}}, headers=admin)
    assert r.status_code == 404  # the group is not there to update
    r = c.patch(f"{base}/identity", json={"config": {"ldap": {"url": "u"}}}, headers=admin)
    assert r.status_code == 403
    assert c.get(f"{base}/nova", headers=admin).status_code == 403
    m = member(cloud, admin)
    assert c.get(base, headers=m.headers).status_code == 403
    assert c.put(base, json={"config": CONFIG}, headers=m.headers).status_code == 403
    assert c.get(f"{V3}/domains/config/default", headers=m.headers).status_code == 403


def test_defaults(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    config = c.get(f"{V3}/domains/config/default", headers=admin).json()["config"]
    assert set(config) == {"identity", "ldap"} and config["identity"]["driver"] == "sql"
    assert "password" not in config["ldap"] and config["ldap"]["url"] == "ldap://localhost"
    group = c.get(f"{V3}/domains/config/identity/default", headers=admin).json()["config"]
    assert group == {"identity": {"driver": "sql", "list_limit": None}}
    opt = c.get(f"{V3}/domains/config/ldap/user_tree_dn/default", headers=admin)
    assert opt.json()["config"] == {"user_tree_dn": None}
    assert c.get(f"{V3}/domains/config/ldap/password/default", headers=admin).status_code == 403
