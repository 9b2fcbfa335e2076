"""Keystone's marker/limit paging of projects, domains, users and groups: pages
ordered by id, `truncated` and a `links.next` on a full page, following it to the end,
an unknown marker (404) and a bad limit (400)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.identity.conftest import Cloud, unique

V3 = "/identity/v3"


def _walk(cloud: Cloud, admin: dict, url: str, key: str) -> list[list[str]]:
    """The ids of each page, following links.next."""
    pages = []
    while url:
        r = cloud.client.get(url, headers=admin)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append([x["id"] for x in body[key]])
        nxt = body["links"]["next"]
        assert ("truncated" in body) == (nxt is not None)
        url = nxt and nxt.split("://", 1)[1].split("/", 1)[1]
        url = url and "/" + url
    return pages


@pytest.mark.parametrize("kind", ["users", "groups", "projects"])
def test_pages_follow_next(cloud: Cloud, admin: dict, kind: str) -> None:
    c = cloud.client
    dom = c.post(f"{V3}/domains", json={"domain": {"name": unique("pd")}}, headers=admin).json()[
        "domain"
    ]
    single = kind[:-1]
    made = sorted(
        c.post(
            f"{V3}/{kind}",
            json={single: {"name": unique("pg"), "domain_id": dom["id"]}},
            headers=admin,
        ).json()[single]["id"]
        for _ in range(5)
    )
    pages = _walk(cloud, admin, f"{V3}/{kind}?domain_id={dom['id']}&limit=2", kind)
    assert pages == [made[:2], made[2:4], made[4:]]
    first = c.get(f"{V3}/{kind}?domain_id={dom['id']}&limit=2", headers=admin).json()
    query = parse_qs(urlsplit(first["links"]["next"]).query)
    assert query == {"domain_id": [dom["id"]], "limit": ["2"], "marker": [made[1]]}
    assert first["truncated"] is True
    # A marker alone pages on from it; no limit means no `next`.
    rest = c.get(f"{V3}/{kind}?domain_id={dom['id']}&marker={made[2]}", headers=admin).json()
    assert [x["id"] for x in rest[kind]] == made[3:]
    assert rest["links"]["next"] is None and "truncated" not in rest
    # Without paging parameters nothing changes.
    whole = c.get(f"{V3}/{kind}?domain_id={dom['id']}", headers=admin).json()
    assert sorted(x["id"] for x in whole[kind]) == made and "truncated" not in whole


def test_domains_page_and_errors(cloud: Cloud, admin: dict) -> None:
    c = cloud.client
    for _ in range(2):
        c.post(f"{V3}/domains", json={"domain": {"name": unique("pd")}}, headers=admin)
    everything = sorted(x["id"] for x in c.get(f"{V3}/domains", headers=admin).json()["domains"])
    assert [
        i for page in _walk(cloud, admin, f"{V3}/domains?limit=1", "domains") for i in page
    ] == (everything)
    as_projects = c.get(f"{V3}/projects?is_domain=true&limit=1", headers=admin).json()
    assert [x["id"] for x in as_projects["projects"]] == everything[:1]
    r = c.get(f"{V3}/users?marker=nosuch", headers=admin)
    assert (
        r.status_code == 404 and r.json()["error"]["message"] == "Marker nosuch could not be found."
    )
    assert c.get(f"{V3}/projects?limit=lots", headers=admin).status_code == 400
    assert c.get(f"{V3}/groups?limit=-1", headers=admin).status_code == 400
