"""Key pairs: import and generate, shapes per microversion, per-user isolation, admin
access by user_id, paging, and Nova's errors."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from stackbox.compute import keygen
from tests.compute.api.conftest import Cloud, call, token_info, unique

# Nova's api-sample key and the fingerprint Nova printed for it.
SAMPLE_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOOCHjKeiiSUCEQnYJEDNBm2SZvve7hn0cCI9Ksjn3XH api-samples"
)
SAMPLE_FP = "b0:3b:1f:d4:d8:6b:95:54:b7:c8:f3:31:14:fe:8b:d6"


def _create(cloud: Cloud, headers: dict, version: str | None = None, **kp: str):  # type: ignore[no-untyped-def]
    kp.setdefault("name", unique("kp"))
    return call(cloud, "POST", "/os-keypairs", headers, version, json={"keypair": kp})


def test_import_at_2_1_matches_nova_sample(cloud: Cloud, demo: dict) -> None:
    name = unique("imp")
    r = _create(cloud, demo, name=name, public_key=SAMPLE_KEY)
    assert r.status_code == 200, r.text
    kp = r.json()["keypair"]
    assert kp == {
        "name": name,
        "public_key": SAMPLE_KEY,
        "fingerprint": SAMPLE_FP,
        "user_id": token_info(cloud, demo)["user"]["id"],
    }
    shown = call(cloud, "GET", f"/os-keypairs/{name}", demo).json()["keypair"]
    assert set(shown) == {
        "name", "public_key", "fingerprint", "user_id", "created_at", "deleted",
        "deleted_at", "id", "updated_at",
    }  # fmt: skip
    assert shown["deleted"] is False and shown["deleted_at"] is None
    r = call(cloud, "DELETE", f"/os-keypairs/{name}", demo)
    assert r.status_code == 202
    assert call(cloud, "GET", f"/os-keypairs/{name}", demo).status_code == 404


def test_import_at_2_2_and_later(cloud: Cloud, demo: dict) -> None:
    name = unique("mv")
    r = _create(cloud, demo, "latest", name=name, type="ssh", public_key=SAMPLE_KEY)
    assert r.status_code == 201
    assert set(r.json()["keypair"]) == {"type", "name", "public_key", "fingerprint", "user_id"}
    listed = call(cloud, "GET", "/os-keypairs", demo, "2.2").json()["keypairs"]
    entry = next(k["keypair"] for k in listed if k["keypair"]["name"] == name)
    assert entry == {
        "name": name,
        "public_key": SAMPLE_KEY,
        "fingerprint": SAMPLE_FP,
        "type": "ssh",
    }
    old = call(cloud, "GET", "/os-keypairs", demo).json()["keypairs"]
    assert "type" not in next(k["keypair"] for k in old if k["keypair"]["name"] == name)
    assert (
        call(cloud, "GET", f"/os-keypairs/{name}", demo, "2.2").json()["keypair"]["type"] == "ssh"
    )
    r = call(cloud, "DELETE", f"/os-keypairs/{name}", demo, "2.2")
    assert r.status_code == 204 and r.content == b""


def test_generate_returns_a_working_private_key(cloud: Cloud, demo: dict) -> None:
    r = _create(cloud, demo)
    assert r.status_code == 200, r.text
    kp = r.json()["keypair"]
    assert kp["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    key = serialization.load_pem_private_key(kp["private_key"].encode(), None)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert kp["public_key"].split()[:2] == public.decode().split()
    assert kp["fingerprint"] == keygen.ssh_fingerprint(kp["public_key"])
    shown = call(cloud, "GET", f"/os-keypairs/{kp['name']}", demo).json()["keypair"]
    assert "private_key" not in shown


def test_generate_x509(cloud: Cloud, demo: dict) -> None:
    r = _create(cloud, demo, "2.2", type="x509")
    assert r.status_code == 201, r.text
    kp = r.json()["keypair"]
    assert kp["type"] == "x509" and kp["public_key"].startswith("-----BEGIN CERTIFICATE-----")
    assert len(kp["fingerprint"].split(":")) == 20  # SHA-1


def test_generation_is_refused_from_2_92(cloud: Cloud, demo: dict) -> None:
    r = _create(cloud, demo, "2.92")
    assert r.status_code == 400
    assert "public_key" in r.json()["badRequest"]["message"]
    assert _create(cloud, demo, "2.91").status_code == 201


def test_name_rules(cloud: Cloud, demo: dict) -> None:
    assert _create(cloud, demo, name="a.b@c", public_key=SAMPLE_KEY).status_code == 400
    r = _create(cloud, demo, "2.92", name=unique("a.b@c"), public_key=SAMPLE_KEY)
    assert r.status_code == 201
    for bad in ("", "x/y", " lead", "k" * 256, "ünï"):
        assert _create(cloud, demo, name=bad, public_key=SAMPLE_KEY).status_code == 400, bad


@pytest.mark.parametrize(
    "key",
    ["", "ssh-rsa", "ssh-rsa AAAA", "not a key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA"],
)
def test_bad_public_key_is_400(cloud: Cloud, demo: dict, key: str) -> None:
    r = _create(cloud, demo, public_key=key)
    assert r.status_code == 400
    assert r.json()["badRequest"]["message"] == (
        "Keypair data is invalid: failed to generate fingerprint"
    )


def test_rsa_and_ecdsa_imports(cloud: Cloud, demo: dict) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    _, rsa_pub, rsa_fp = keygen.generate_ssh()
    ecdsa = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    r = _create(cloud, demo, public_key=rsa_pub)
    assert r.status_code == 200 and r.json()["keypair"]["fingerprint"] == rsa_fp
    r = _create(cloud, demo, public_key=ecdsa)
    assert r.status_code == 200 and len(r.json()["keypair"]["fingerprint"].split(":")) == 16


def test_duplicate_name_is_409_per_user(cloud: Cloud, admin: dict, demo: dict) -> None:
    name = unique("dup")
    assert _create(cloud, demo, name=name, public_key=SAMPLE_KEY).status_code == 200
    r = _create(cloud, demo, name=name, public_key=SAMPLE_KEY)
    assert r.status_code == 409
    assert r.json()["conflictingRequest"]["message"] == f"Key pair '{name}' already exists."
    # the same name is free for another user
    assert _create(cloud, admin, name=name, public_key=SAMPLE_KEY).status_code == 200


def test_users_only_see_their_own(cloud: Cloud, admin: dict, demo: dict) -> None:
    name = unique("adminkey")
    assert _create(cloud, admin, name=name, public_key=SAMPLE_KEY).status_code == 200
    names = {
        k["keypair"]["name"] for k in call(cloud, "GET", "/os-keypairs", demo).json()["keypairs"]
    }
    assert name not in names
    r = call(cloud, "GET", f"/os-keypairs/{name}", demo)
    assert r.status_code == 404
    demo_user = token_info(cloud, demo)["user"]["id"]
    assert r.json()["itemNotFound"]["message"] == f"Keypair {name} not found for user {demo_user}"
    assert call(cloud, "DELETE", f"/os-keypairs/{name}", demo).status_code == 404
    admin_user = token_info(cloud, admin)["user"]["id"]
    # a non-admin naming another user is refused by policy
    q = {"user_id": admin_user}
    r = call(cloud, "GET", "/os-keypairs", demo, "2.10", params=q)
    assert r.status_code == 403
    assert r.json()["forbidden"]["message"] == (
        "Policy doesn't allow os_compute_api:os-keypairs:index to be performed."
    )
    assert call(cloud, "GET", f"/os-keypairs/{name}", demo, "2.10", params=q).status_code == 403
    body = {"keypair": {"name": unique("x"), "public_key": SAMPLE_KEY, "user_id": admin_user}}
    assert call(cloud, "POST", "/os-keypairs", demo, "2.10", json=body).status_code == 403


def test_admin_acts_for_another_user_from_2_10(cloud: Cloud, admin: dict, demo: dict) -> None:
    demo_user = token_info(cloud, demo)["user"]["id"]
    name = unique("fordemo")
    body = {"keypair": {"name": name, "public_key": SAMPLE_KEY, "user_id": demo_user}}
    assert call(cloud, "POST", "/os-keypairs", admin, "2.9", json=body).status_code == 400
    r = call(cloud, "POST", "/os-keypairs", admin, "2.10", json=body)
    assert r.status_code == 201 and r.json()["keypair"]["user_id"] == demo_user
    mine = call(cloud, "GET", "/os-keypairs", demo).json()["keypairs"]
    assert name in {k["keypair"]["name"] for k in mine}
    q = {"user_id": demo_user}
    theirs = call(cloud, "GET", "/os-keypairs", admin, "2.10", params=q).json()["keypairs"]
    assert name in {k["keypair"]["name"] for k in theirs}
    shown = call(cloud, "GET", f"/os-keypairs/{name}", admin, "2.10", params=q).json()
    assert shown["keypair"]["user_id"] == demo_user
    assert call(cloud, "DELETE", f"/os-keypairs/{name}", admin, "2.10", params=q).status_code == 204


def test_paging_from_2_35(cloud: Cloud, admin: dict) -> None:
    headers = admin
    prefix = unique("zz-page")  # sorts after the admin's other key pairs
    for i in range(3):
        _create(cloud, headers, name=f"{prefix}-{i}", public_key=SAMPLE_KEY)
    r = call(cloud, "GET", "/os-keypairs", headers, "2.35", params={"marker": f"{prefix}-0"})
    names = [k["keypair"]["name"] for k in r.json()["keypairs"]]
    assert names[:2] == [f"{prefix}-1", f"{prefix}-2"]
    q = {"limit": 1, "marker": f"{prefix}-0"}
    body = call(cloud, "GET", "/os-keypairs", headers, "2.35", params=q).json()
    assert [k["keypair"]["name"] for k in body["keypairs"]] == [f"{prefix}-1"]
    (link,) = body["keypairs_links"]
    assert link["rel"] == "next" and f"marker={prefix}-1" in link["href"]
    r = call(cloud, "GET", "/os-keypairs", headers, "2.35", params={"marker": "nope"})
    assert r.status_code == 400
    # before 2.35 paging parameters are ignored
    r = call(cloud, "GET", "/os-keypairs", headers, "2.34", params={"limit": 1})
    assert len(r.json()["keypairs"]) >= 3 and "keypairs_links" not in r.json()
    r = call(cloud, "GET", "/os-keypairs", headers, "2.75", params={"sort": "x"})
    assert r.status_code == 400


def test_import_x509_certificate(cloud: Cloud, demo: dict) -> None:
    _, pem, fp = keygen.generate_x509("someone")
    r = _create(cloud, demo, "2.2", type="x509", public_key=pem)
    assert r.status_code == 201, r.text
    assert r.json()["keypair"]["fingerprint"] == fp
    r = _create(cloud, demo, "2.2", type="x509", public_key=SAMPLE_KEY)
    assert r.status_code == 400
    assert r.json()["badRequest"]["message"].startswith(
        "Keypair data is invalid: failed to generate X509 fingerprint."
    )
