"""What a metadefs namespace holds: objects, properties, tags and resource type
associations, as Tempest drives them, plus deleting a namespace's contents, the 403s of
a protected namespace and the schemas at /v2/schemas/metadefs/*."""

from __future__ import annotations

import pytest

from stackbox.image.api.metadefs_schemas import PROPERTY_FIELDS, PUBLISHED
from stackbox.image.metadef_load import load_metadefs
from stackbox.image.metadef_store import PROPERTY_KEYS
from tests.image.conftest import Cloud, unique

NS = "/image/v2/metadefs/namespaces"


@pytest.fixture(scope="module", autouse=True)
def standard(cloud: Cloud) -> None:
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        load_metadefs(s)


def namespace(cloud: Cloud, headers: dict, **body: object) -> str:
    name = unique("ns")
    r = cloud.client.post(
        NS, json={"namespace": name, "visibility": "public", **body}, headers=headers
    )
    assert r.status_code == 201, r.text
    return name


def test_objects(cloud: Cloud, admin: dict, demo: dict) -> None:
    ns = namespace(cloud, admin)
    url = f"{NS}/{ns}/objects"
    body = {"name": "o1", "properties": {"a": {"title": "A", "type": "integer"}}}
    r = cloud.client.post(url, json=body, headers=admin)
    assert r.status_code == 201 and r.json()["self"] == f"/v2/metadefs/namespaces/{ns}/objects/o1"
    assert cloud.client.post(url, json=body, headers=admin).status_code == 409
    bad = {"name": "o2", "properties": {"a": {"type": "integer"}}}  # no title
    assert cloud.client.post(url, json=bad, headers=admin).status_code == 400
    assert cloud.client.post(url, json={"name": "o3"}, headers=demo).status_code == 403
    r = cloud.client.put(f"{url}/o1", json={"name": "o9", "description": "d"}, headers=admin)
    assert r.status_code == 200 and r.json()["properties"] == {}
    assert cloud.client.get(f"{url}/o9", headers=demo).json()["description"] == "d"
    assert cloud.client.get(f"{url}/o1", headers=admin).status_code == 404
    assert [o["name"] for o in cloud.client.get(url, headers=demo).json()["objects"]] == ["o9"]
    assert cloud.client.delete(f"{url}/o9", headers=admin).status_code == 204
    assert cloud.client.get(url, headers=admin).json()["objects"] == []


def test_properties_with_prefixed_lookup(cloud: Cloud, admin: dict) -> None:
    ns = namespace(cloud, admin)
    r = cloud.client.post(
        f"{NS}/{ns}/resource_types",
        json={"name": "OS::Nova::Flavor", "prefix": "hw:"},
        headers=admin,
    )
    assert r.status_code == 201 and r.json()["prefix"] == "hw:"
    url = f"{NS}/{ns}/properties"
    prop = {"name": "OS::Nova::Flavor", "title": "T", "type": "string", "enum": ["kvm", "qemu"]}
    r = cloud.client.post(url, json=prop, headers=admin)
    assert r.status_code == 201 and r.json() == prop
    assert cloud.client.post(url, json=prop, headers=admin).status_code == 409
    assert (
        cloud.client.post(url, json={"name": "x", "type": "string"}, headers=admin).status_code
        == 400
    )
    assert cloud.client.get(f"{url}/OS::Nova::Flavor", headers=admin).json() == prop
    r = cloud.client.put(
        f"{url}/OS::Nova::Flavor", json={**prop, "name": "cpu", "title": "U"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["title"] == "U"
    flavor = {"resource_type": "OS::Nova::Flavor"}
    assert cloud.client.get(f"{url}/hw:cpu", params=flavor, headers=admin).status_code == 200
    assert cloud.client.get(f"{url}/cpu", params=flavor, headers=admin).status_code == 404
    image = {"resource_type": "OS::Glance::Image"}  # not associated
    assert cloud.client.get(f"{url}/hw_cpu", params=image, headers=admin).status_code == 404
    assert list(cloud.client.get(url, headers=admin).json()["properties"]) == ["cpu"]
    assert cloud.client.delete(f"{url}/cpu", headers=admin).status_code == 204
    assert cloud.client.get(url, headers=admin).json() == {"properties": {}}


def test_tags(cloud: Cloud, admin: dict) -> None:
    ns = namespace(cloud, admin)
    url = f"{NS}/{ns}/tags"
    three = {"tags": [{"name": "sample-tag1"}, {"name": "sample-tag2"}, {"name": "sample-tag3"}]}
    assert cloud.client.post(url, json=three, headers=admin).status_code == 201
    r = cloud.client.post(f"{url}/extra", headers=admin)
    assert r.status_code == 201 and r.json()["name"] == "extra"
    assert cloud.client.post(f"{url}/extra", headers=admin).status_code == 409
    r = cloud.client.put(f"{url}/extra", json={"name": "renamed"}, headers=admin)
    assert r.status_code == 200 and r.json()["name"] == "renamed"
    assert cloud.client.get(f"{url}/renamed", headers=admin).status_code == 200
    assert len(cloud.client.get(url, headers=admin).json()["tags"]) == 4
    # Without X-Openstack-Append, POST replaces; with it, it adds.
    cloud.client.post(url, json={"tags": [{"name": "a"}]}, headers=admin)
    cloud.client.post(
        url, json={"tags": [{"name": "b"}]}, headers={**admin, "X-Openstack-Append": "True"}
    )
    listed = cloud.client.get(url, params={"sort_key": "name", "sort_dir": "asc"}, headers=admin)
    assert listed.json() == {"tags": [{"name": "a"}, {"name": "b"}]}
    dup = {"tags": [{"name": "c"}, {"name": "c"}]}
    assert cloud.client.post(url, json=dup, headers=admin).status_code == 409
    assert cloud.client.delete(f"{url}/a", headers=admin).status_code == 204
    assert cloud.client.delete(url, headers=admin).status_code == 204
    assert cloud.client.get(url, headers=admin).json() == {"tags": []}


def test_resource_type_associations(cloud: Cloud, admin: dict) -> None:
    ns = namespace(cloud, admin)
    url = f"{NS}/{ns}/resource_types"
    new_type = unique("OS::Test::Thing")
    assert cloud.client.post(url, json={"name": new_type}, headers=admin).status_code == 201
    assert cloud.client.post(url, json={"name": new_type}, headers=admin).status_code == 409
    listed = cloud.client.get(url, headers=admin).json()["resource_type_associations"]
    assert [a["name"] for a in listed] == [new_type]
    types = cloud.client.get("/image/v2/metadefs/resource_types", headers=admin).json()
    assert new_type in [t["name"] for t in types["resource_types"]]
    assert cloud.client.delete(f"{url}/{new_type}", headers=admin).status_code == 204
    assert cloud.client.delete(f"{url}/{new_type}", headers=admin).status_code == 404
    assert cloud.client.get(url, headers=admin).json() == {"resource_type_associations": []}


def test_protected_namespace_keeps_its_contents(cloud: Cloud, admin: dict) -> None:
    ns = namespace(
        cloud,
        admin,
        protected=True,
        resource_type_associations=[{"name": "OS::Nova::Flavor"}],
        properties={"p": {"title": "P", "type": "string"}},
        objects=[{"name": "o"}],
        tags=[{"name": "t"}],
    )
    for path in (
        "objects",
        "properties",
        "tags",
        "objects/o",
        "properties/p",
        "tags/t",
        "resource_types/OS::Nova::Flavor",
    ):
        assert cloud.client.delete(f"{NS}/{ns}/{path}", headers=admin).status_code == 403, path
    cloud.client.put(f"{NS}/{ns}", json={"namespace": ns, "visibility": "public"}, headers=admin)
    for path in ("objects", "properties", "tags"):
        assert cloud.client.delete(f"{NS}/{ns}/{path}", headers=admin).status_code == 204
    shown = cloud.client.get(f"{NS}/{ns}", headers=admin).json()
    assert not {"objects", "properties", "tags"} & set(shown)
    assert shown["resource_type_associations"][0]["name"] == "OS::Nova::Flavor"


def test_schemas(cloud: Cloud, demo: dict) -> None:
    expect = {
        "namespace": "namespace",
        "namespaces": "namespaces",
        "object": "object",
        "objects": "objects",
        "property": "property",
        "properties": "properties",
        "resource_type": "resource_type_association",
        "resource_types": "resource_type_associations",
        "tag": "tag",
        "tags": "tags",
    }
    for path, name in expect.items():
        r = cloud.client.get(f"/image/v2/schemas/metadefs/{path}", headers=demo)
        assert r.status_code == 200 and r.json()["name"] == name
    assert set(PUBLISHED) == set(expect)
    assert cloud.client.get("/image/v2/schemas/metadefs/nope", headers=demo).status_code == 404
    # What the schema accepts is what the store keeps.
    assert set(PROPERTY_FIELDS) - {"name"} == set(PROPERTY_KEYS)
