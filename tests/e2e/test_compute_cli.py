"""The Compute API's flavors and key pairs through the unmodified `openstack` CLI against
a running `stackbox up` (which seeds the five m1.* flavors)."""

from __future__ import annotations

import uuid
from pathlib import Path

from stackbox.compute import keygen
from tests.e2e.conftest import Running

ADMIN = ("--os-cloud", "stackbox")
DEMO = ("--os-cloud", "stackbox-demo")


def test_flavor_list_shows_the_seed_flavors(cloud_up: Running) -> None:
    for who in (ADMIN, DEMO):
        rows = cloud_up.openstack_json(*who, "flavor", "list")
        by_name = {r["Name"]: r for r in rows}  # type: ignore[union-attr]
        assert {"m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"} <= set(by_name)
        tiny = by_name["m1.tiny"]
        assert (tiny["ID"], tiny["RAM"], tiny["Disk"], tiny["VCPUs"]) == ("1", 512, 1, 1)
        assert by_name["m1.xlarge"]["RAM"] == 16384


def test_flavor_create_set_show_delete(cloud_up: Running) -> None:
    name = f"f1-{uuid.uuid4().hex[:6]}"
    os_ = cloud_up.openstack_json
    created = os_(*ADMIN, "flavor", "create", "--ram", "256", "--disk", "1", "--vcpus", "1", name)
    assert created["name"] == name and created["ram"] == 256  # type: ignore[index]
    cloud_up.openstack(*ADMIN, "flavor", "set", "--property", "hw:cpu_cores=1", name)
    shown = os_(*ADMIN, "flavor", "show", name)
    assert shown["properties"] == {"hw:cpu_cores": "1"}  # type: ignore[index]
    assert shown["vcpus"] == 1 and shown["disk"] == 1  # type: ignore[index]
    # a project member may not create flavors
    r = cloud_up.openstack(*DEMO, "flavor", "create", "--ram", "64", name + "-x", check=False)
    assert r.returncode != 0 and "403" in r.stderr
    cloud_up.openstack(*ADMIN, "flavor", "delete", name)
    assert name not in {f["Name"] for f in os_(*ADMIN, "flavor", "list", "--all")}  # type: ignore[union-attr]


def test_keypair_create_import_list_show_delete(cloud_up: Running, tmp_path: Path) -> None:
    k1, k2 = (f"{n}-{uuid.uuid4().hex[:6]}" for n in ("k1", "k2"))
    gen = cloud_up.openstack(*DEMO, "keypair", "create", k1)
    assert "PRIVATE KEY-----" in gen.stdout
    _, public, fingerprint = keygen.generate_ssh()
    pub_file = tmp_path / "id.pub"
    pub_file.write_text(public + "\n")
    imported = cloud_up.openstack_json(
        *DEMO, "keypair", "create", "--public-key", str(pub_file), k2
    )
    assert imported["fingerprint"] == fingerprint  # type: ignore[index]

    names = {k["Name"] for k in cloud_up.openstack_json(*DEMO, "keypair", "list")}  # type: ignore[union-attr]
    assert {k1, k2} <= names
    # key pairs are per user: the admin does not see the demo user's
    assert not {k1, k2} & {k["Name"] for k in cloud_up.openstack_json(*ADMIN, "keypair", "list")}  # type: ignore[union-attr]
    shown = cloud_up.openstack_json(*DEMO, "keypair", "show", k2)
    assert shown["fingerprint"] == fingerprint and shown["name"] == k2  # type: ignore[index]
    pub = cloud_up.openstack(*DEMO, "keypair", "show", "--public-key", k2).stdout
    assert pub.split()[:2] == public.split()[:2]

    cloud_up.openstack(*DEMO, "keypair", "delete", k1, k2)
    assert not {k1, k2} & {k["Name"] for k in cloud_up.openstack_json(*DEMO, "keypair", "list")}  # type: ignore[union-attr]
    r = cloud_up.openstack(*DEMO, "keypair", "show", k1, check=False)
    assert r.returncode != 0
