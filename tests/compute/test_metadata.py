"""Config-drive content: meta_data.json, EC2 meta-data, user data, network data."""

from __future__ import annotations

import base64

from stackbox.compute import metadata
from tests.compute.recording import make_instance


def _inst(**kw: object) -> dict:
    return make_instance("img-1", name="instance-0000000a", **kw)


def test_meta_data_has_novas_fields() -> None:
    inst = _inst(
        key_name="k1",
        key_data="ssh-rsa AAAB me",
        metadata={"a": "b"},
        availability_zone="az1",
        launch_index=2,
        hostname="web-1",
    )
    md = metadata.meta_data(inst, random_seed=b"x" * 4)
    assert md["uuid"] == inst["uuid"]
    assert md["name"] == "vm1"
    assert md["hostname"] == "web-1"
    assert md["launch_index"] == 2
    assert md["availability_zone"] == "az1"
    assert md["project_id"] == "p1"
    assert md["public_keys"] == {"k1": "ssh-rsa AAAB me"}
    assert md["keys"] == [{"name": "k1", "type": "ssh", "data": "ssh-rsa AAAB me"}]
    assert md["meta"] == {"a": "b"}
    assert md["devices"] == []
    assert base64.b64decode(md["random_seed"]) == b"xxxx"
    assert "admin_pass" not in md


def test_admin_password_goes_on_the_drive() -> None:
    assert metadata.meta_data(_inst(), "s3cret")["admin_pass"] == "s3cret"


def test_random_seed_is_512_random_bytes() -> None:
    a, b = metadata.meta_data(_inst()), metadata.meta_data(_inst())
    assert len(base64.b64decode(a["random_seed"])) == 512
    assert a["random_seed"] != b["random_seed"]


def test_no_keypair_gives_empty_keys() -> None:
    md = metadata.meta_data(_inst())
    assert md["public_keys"] == {} and md["keys"] == []


def test_ec2_meta_data_uses_the_database_id() -> None:
    ec2 = metadata.ec2_meta_data(_inst(key_name="k", key_data="ssh-rsa X"))
    assert ec2["instance-id"] == "i-0000000a"
    assert ec2["ami-id"] == "img-1"
    assert ec2["hostname"] == ec2["local-hostname"] == "vm1"
    assert ec2["placement"] == {"availability-zone": "nova"}
    assert ec2["public-keys"] == {"0": {"openssh-key": "ssh-rsa X"}}
    assert metadata.meta_data(_inst())["ec2_instance_id"] == "i-0000000a"


def test_user_data_is_decoded() -> None:
    raw = b"#cloud-config\n\x00\xff"
    assert metadata.user_data(_inst(user_data=base64.b64encode(raw).decode())) == raw
    assert metadata.user_data(_inst(user_data=None)) is None


def test_network_data_is_empty_until_networking() -> None:
    assert metadata.network_data(_inst()) == {"links": [], "networks": [], "services": []}
