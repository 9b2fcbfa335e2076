"""The standard namespaces: loading is idempotent and leaves operators' changes alone,
every file is a valid namespace body, and every property they describe is a key the
compute code reads -- each listed value is accepted and a value outside is refused."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from sqlalchemy import select

from stackbox.image.api.metadefs_schemas import NAMESPACE
from stackbox.image.metadef_load import SYSTEM_RESOURCE_TYPES, definitions, load_metadefs
from stackbox.image.metadef_models import MetadefNamespace, MetadefResourceType
from stackbox.virt import hardware, numa
from tests.image.conftest import Cloud

# Settings some keys need before they mean anything.
CONTEXT = {"hw:cpu_thread_policy": {"hw:cpu_policy": "dedicated"}}


def test_loading_twice_changes_nothing(cloud: Cloud, admin: dict) -> None:
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        load_metadefs(s)
    r = cloud.client.put(
        "/image/v2/metadefs/namespaces/OS::Compute::Watchdog",
        json={
            "namespace": "OS::Compute::Watchdog",
            "visibility": "public",
            "protected": True,
            "description": "changed by the operator",
        },
        headers=admin,
    )
    assert r.status_code == 200
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        assert load_metadefs(s) == []
        loaded = s.scalars(select(MetadefNamespace.namespace)).all()
        assert sorted(n for n in loaded if n.startswith("OS::Compute::")) == sorted(
            d["namespace"] for d in definitions()
        )
        types = s.scalars(select(MetadefResourceType).where(MetadefResourceType.protected)).all()
        assert {t.name for t in types} == set(SYSTEM_RESOURCE_TYPES)
    shown = cloud.client.get("/image/v2/metadefs/namespaces/OS::Compute::Watchdog", headers=admin)
    assert shown.json()["description"] == "changed by the operator"


def _described() -> list[tuple[str, dict[str, Any]]]:
    """(full key, property schema) for every property under every association."""
    out = []
    for doc in definitions():
        props = dict(doc.get("properties", {}))
        for obj in doc.get("objects", []):
            props.update(obj["properties"])
        for assoc in doc["resource_type_associations"]:
            for name, schema in props.items():
                key = assoc.get("prefix", "") + name
                target = "flavor" if assoc["name"] == "OS::Nova::Flavor" else "image"
                out.append((f"{target} {key}", schema))
    return out


def _check(target_key: str, value: str) -> None:
    """Build the guest's hardware and NUMA request with just this key set."""
    target, key = target_key.split(" ")
    flavor = dict(CONTEXT.get(key.replace("hw_", "hw:", 1), {}))
    for way in ("inbound", "outbound"):  # a peak or burst needs its average
        if key.startswith(f"quota:vif_{way}_") and not key.endswith("average"):
            flavor[f"quota:vif_{way}_average"] = "1"
    image: dict[str, str] = {}
    (flavor if target == "flavor" else image)[key] = value
    hardware.validate(4, flavor, image)
    numa.parse_request(4, 4096, flavor, image)


@pytest.mark.parametrize("doc", definitions(), ids=lambda d: d["namespace"])
def test_each_file_is_a_valid_namespace(doc: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(NAMESPACE).validate(doc)
    assert doc["visibility"] == "public" and doc["protected"] is True


@pytest.mark.parametrize("key,schema", _described(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_described_key_is_honoured(key: str, schema: dict[str, Any]) -> None:
    good = [str(v) for v in schema.get("enum", [])]
    bad = "not-a-valid-value"
    if schema["type"] == "integer":
        good = [str(1000 if "quota:cpu_" in key else max(schema.get("minimum", 1), 1))]
    elif schema["type"] == "boolean":
        good = ["true", "false"]
    elif not good:
        good = ["2048", "large"]
    for value in good:
        if "rate_period" in key:  # needs rate_bytes beside it
            continue
        _check(key, value)
    with pytest.raises((hardware.HardwareError, numa.InvalidNumaRequest)):
        _check(key, bad)
