"""Metadefs namespaces: Tempest's lifecycle, who sees which namespace, the list's
filters and paging, the resource-type prefix on show, and Glance's error codes."""

from __future__ import annotations

from typing import Any

import pytest

from stackbox.image.metadef_load import load_metadefs
from tests.image.conftest import Cloud, project_id, unique

NS = "/image/v2/metadefs/namespaces"


@pytest.fixture(scope="module", autouse=True)
def standard(cloud: Cloud) -> None:
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        load_metadefs(s)


def create(cloud: Cloud, headers: dict, **body: Any) -> dict:
    body.setdefault("namespace", unique("ns"))
    r = cloud.client.post(NS, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def names(cloud: Cloud, headers: dict, **params: Any) -> list[str]:
    r = cloud.client.get(NS, params={"limit": 1000, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return [n["namespace"] for n in r.json()["namespaces"]]


def test_tempest_lifecycle(cloud: Cloud, admin: dict) -> None:
    types = cloud.client.get("/image/v2/metadefs/resource_types", headers=admin).json()
    first = types["resource_types"][0]["name"]
    name = unique("ns")
    body = create(
        cloud,
        admin,
        namespace=name,
        visibility="public",
        description="Tempest",
        display_name=name,
        resource_type_associations=[{"name": first}],
        protected=True,
    )
    assert body["self"] == f"/v2/metadefs/namespaces/{name}"
    assert body["resource_type_associations"] == [{"name": first}]
    assert name in names(cloud, admin)
    shown = cloud.client.get(f"{NS}/{name}", headers=admin).json()
    assert (shown["visibility"], shown["protected"]) == ("public", True)
    assert cloud.client.delete(f"{NS}/{name}", headers=admin).status_code == 403
    r = cloud.client.put(
        f"{NS}/{name}",
        json={
            "namespace": name,
            "description": "Tempest",
            "visibility": "private",
            "display_name": name,
            "protected": False,
        },
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["visibility"], r.json()["protected"]) == ("private", False)
    assert cloud.client.delete(f"{NS}/{name}", headers=admin).status_code == 204
    assert cloud.client.get(f"{NS}/{name}", headers=admin).status_code == 404


def test_projects_see_public_and_their_own_only(cloud: Cloud, admin: dict, demo: dict) -> None:
    private = create(cloud, admin)["namespace"]
    public = create(cloud, admin, visibility="public")["namespace"]
    demos = create(cloud, admin, owner=project_id(cloud, demo))["namespace"]
    seen = names(cloud, demo)
    assert public in seen and demos in seen and private not in seen
    assert private in names(cloud, admin)
    assert cloud.client.get(f"{NS}/{private}", headers=demo).status_code == 404
    assert cloud.client.get(f"{NS}/{demos}", headers=demo).status_code == 200
    # Writing is admin-only: 403 where the namespace is visible, 404 where it is not.
    assert cloud.client.delete(f"{NS}/{public}", headers=demo).status_code == 403
    assert cloud.client.delete(f"{NS}/{private}", headers=demo).status_code == 404
    assert cloud.client.post(NS, json={"namespace": unique("ns")}, headers=demo).status_code == 403
    assert names(cloud, demo, visibility="private") == [demos]


def test_filters_and_paging(cloud: Cloud, admin: dict) -> None:
    tag = unique("RT::Paging")
    made = [
        create(cloud, admin, resource_type_associations=[{"name": tag}])["namespace"]
        for _ in range(3)
    ]
    assert names(cloud, admin, resource_types=f"{tag},Nope") == made[::-1]
    assert names(cloud, admin, resource_types=tag, sort_dir="asc") == made
    r = cloud.client.get(NS, params={"resource_types": tag, "limit": 2}, headers=admin).json()
    assert [n["namespace"] for n in r["namespaces"]] == made[:0:-1]
    assert r["next"].startswith("/v2/metadefs/namespaces?") and "marker=" in r["next"]
    rest = cloud.client.get("/image" + r["next"], headers=admin).json()
    assert [n["namespace"] for n in rest["namespaces"]] == made[:1] and "next" not in rest
    assert "OS::Compute::Quota" in names(cloud, admin, resource_types="OS::Nova::Flavor")
    assert "OS::Compute::Quota" not in names(cloud, admin, resource_types="OS::Glance::Image")
    for bad in ({"visibility": "shared"}, {"sort_key": "nope"}, {"limit": "x"}):
        assert cloud.client.get(NS, params=bad, headers=admin).status_code == 400
    assert cloud.client.get(NS, params={"marker": "nope"}, headers=admin).status_code == 404


def test_show_applies_the_resource_type_prefix(cloud: Cloud, demo: dict) -> None:
    url = f"{NS}/OS::Compute::VirtCPUTopology"
    plain = cloud.client.get(url, headers=demo).json()
    assert "cpu_sockets" in plain["properties"]
    flavor = cloud.client.get(url, params={"resource_type": "OS::Nova::Flavor"}, headers=demo)
    image = cloud.client.get(url, params={"resource_type": "OS::Glance::Image"}, headers=demo)
    assert "hw:cpu_max_cores" in flavor.json()["properties"]
    assert "hw_cpu_max_cores" in image.json()["properties"]
    quota = cloud.client.get(
        f"{NS}/OS::Compute::Quota", params={"resource_type": "OS::Nova::Flavor"}, headers=demo
    ).json()
    props = {p for o in quota["objects"] for p in o["properties"]}
    assert "quota:cpu_period" in props and "quota:vif_outbound_burst" in props


def test_errors(cloud: Cloud, admin: dict) -> None:
    name = create(cloud, admin)["namespace"]
    assert cloud.client.post(NS, json={"namespace": name}, headers=admin).status_code == 409
    for body, status in (
        ({"namespace": unique("ns"), "self": "/x"}, 403),
        ({"namespace": unique("ns"), "visibility": "shared"}, 400),
        ({"namespace": unique("ns"), "color": "red"}, 400),
        ({"display_name": "no name"}, 400),
    ):
        assert cloud.client.post(NS, json=body, headers=admin).status_code == status, body
    other = create(cloud, admin)["namespace"]
    r = cloud.client.put(f"{NS}/{other}", json={"namespace": name}, headers=admin)
    assert r.status_code == 409
    r = cloud.client.put(f"{NS}/nope-{name}", json={"namespace": "x"}, headers=admin)
    assert r.status_code == 404


def test_create_with_contents_then_delete_cascades(cloud: Cloud, admin: dict) -> None:
    name = unique("ns")
    create(
        cloud,
        admin,
        namespace=name,
        resource_type_associations=[{"name": "OS::Nova::Flavor", "prefix": "x:"}],
        properties={"p": {"title": "P", "type": "integer", "minimum": 1}},
        objects=[
            {"name": "o", "required": ["q"], "properties": {"q": {"title": "Q", "type": "string"}}}
        ],
        tags=[{"name": "t1"}, {"name": "t2"}],
    )
    shown = cloud.client.get(
        f"{NS}/{name}", params={"resource_type": "OS::Nova::Flavor"}, headers=admin
    ).json()
    assert shown["properties"] == {"x:p": {"title": "P", "type": "integer", "minimum": 1}}
    assert shown["objects"][0]["required"] == ["x:q"]
    assert [t["name"] for t in shown["tags"]] == ["t1", "t2"]
    assert cloud.client.delete(f"{NS}/{name}", headers=admin).status_code == 204
    create(cloud, admin, namespace=name)  # the name and its contents are free again
    assert cloud.client.get(f"{NS}/{name}/tags", headers=admin).json() == {"tags": []}
