"""Helpers for the identity-extras tests: a fresh project with a member user and a
token scoped to it."""

from __future__ import annotations

from dataclasses import dataclass

from tests.identity.conftest import Cloud, unique

V3 = "/identity/v3"


@dataclass
class Member:
    user: dict
    project: dict
    password: str
    headers: dict


def member(cloud: Cloud, admin: dict, role: str = "member") -> Member:
    """A new user holding `role` on a new project of the Default domain."""
    c = cloud.client
    project = c.post(
        f"{V3}/projects", json={"project": {"name": unique("p")}}, headers=admin
    ).json()["project"]
    password = unique("pw")
    user = c.post(
        f"{V3}/users", json={"user": {"name": unique("u"), "password": password}}, headers=admin
    ).json()["user"]
    role_id = c.get(f"{V3}/roles?name={role}", headers=admin).json()["roles"][0]["id"]
    r = c.put(f"{V3}/projects/{project['id']}/users/{user['id']}/roles/{role_id}", headers=admin)
    assert r.status_code == 204, r.text
    token = cloud.token(user["name"], password, project["name"])
    return Member(user, project, password, cloud.headers(token))
