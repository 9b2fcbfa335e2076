"""Key material for os-keypairs: fingerprints as Nova prints them, generated keys that
load back, bad keys refused."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from stackbox.compute import keygen

SAMPLE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOOCHjKeiiSUCEQnYJEDNBm2SZvve7hn0cCI9Ksjn3XH x"


def test_ssh_fingerprint_matches_nova_sample() -> None:
    assert keygen.ssh_fingerprint(SAMPLE) == "b0:3b:1f:d4:d8:6b:95:54:b7:c8:f3:31:14:fe:8b:d6"


def test_generated_ssh_key_pair_belongs_together() -> None:
    private, public, fp = keygen.generate_ssh()
    key = serialization.load_pem_private_key(private.encode(), None)
    line = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert public.startswith(line.decode() + " ")
    assert fp == keygen.fingerprint(public)


def test_generated_x509_certificate_names_the_user() -> None:
    user = "u" * 90  # longer than a CN may be
    private, pem, fp = keygen.generate(keygen.X509, user)
    cert = x509.load_pem_x509_certificate(pem.encode())
    assert cert.subject.rfc4514_string() == "CN=" + "u" * 64
    assert fp == keygen.fingerprint(pem, keygen.X509)
    assert serialization.load_pem_private_key(private.encode(), None).key_size == 2048  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", ["", "ssh-rsa", "ssh-rsa !!!", SAMPLE.replace("AAAAC3", "BBBBC3")])
def test_bad_ssh_keys(bad: str) -> None:
    with pytest.raises(keygen.InvalidKey):
        keygen.ssh_fingerprint(bad)


def test_bad_certificate() -> None:
    with pytest.raises(keygen.InvalidKey):
        keygen.x509_fingerprint("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----")
