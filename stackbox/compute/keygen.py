"""Key pair material for the os-keypairs API: checking an imported public key, its
fingerprint in Nova's form, and generating a new key pair.

- `ssh` keys: OpenSSH one-line public keys (ssh-rsa, ssh-ed25519, ecdsa-sha2-*) parsed
  with `cryptography`; the fingerprint is the MD5 of the decoded key blob as colon hex
  (what Nova and `ssh-keygen -E md5 -l` show). Generated keys are RSA 2048 with the
  private key in traditional PEM, as Nova hands out.
- `x509` keys: a PEM certificate; the fingerprint is the SHA-1 of the certificate.
  Generated ones are self-signed certificates for the user (Nova's WinRM certificates).

Pure functions, no database and no HTTP: the API module turns `InvalidKey` into a 400.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

SSH = "ssh"
X509 = "x509"


class InvalidKey(ValueError):
    """The public key (or certificate) cannot be parsed."""


def _colon_hex(digest: bytes) -> str:
    hexed = digest.hex()
    return ":".join(hexed[i : i + 2] for i in range(0, len(hexed), 2))


def ssh_fingerprint(public_key: str) -> str:
    """MD5 colon fingerprint of an OpenSSH public key line; InvalidKey if it is not one."""
    try:
        serialization.load_ssh_public_key(public_key.encode("utf-8"))
        blob = base64.b64decode(public_key.split(" ")[1], validate=True)
    except (ValueError, IndexError, UnicodeError, binascii.Error) as exc:
        raise InvalidKey("failed to generate fingerprint") from exc
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm for odd key types
        raise InvalidKey("failed to generate fingerprint") from exc
    return _colon_hex(hashlib.md5(blob, usedforsecurity=False).digest())


def x509_fingerprint(pem: str) -> str:
    """SHA-1 colon fingerprint of a PEM certificate; InvalidKey if it is not one."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("utf-8"))
    except (ValueError, TypeError, UnicodeError) as exc:
        raise InvalidKey(f"failed to generate X509 fingerprint. Error message: {exc}") from exc
    return _colon_hex(cert.fingerprint(hashes.SHA1()))  # the format demands SHA-1


def fingerprint(public_key: str, key_type: str = SSH) -> str:
    return x509_fingerprint(public_key) if key_type == X509 else ssh_fingerprint(public_key)


def generate_ssh(bits: int = 2048) -> tuple[str, str, str]:
    """(private_key PEM, public_key line, fingerprint) of a new RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    openssh = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    public = f"{openssh} Generated-by-Nova"
    return private, public, ssh_fingerprint(public)


def generate_x509(user_id: str, bits: int = 2048, days: int = 3650) -> tuple[str, str, str]:
    """(private_key PEM, certificate PEM, fingerprint) of a new self-signed certificate
    whose subject names the user (for WinRM-style certificate logins)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id[:64])])  # CN max 64
    upn = f"{user_id}@localhost"  # the user principal name WinRM maps to the user
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"), _utf8(upn))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return private, pem, x509_fingerprint(pem)


def _utf8(text: str) -> bytes:
    """DER UTF8String of `text` (the value of a UPN OtherName)."""
    raw = text.encode("utf-8")
    if len(raw) < 0x80:
        return b"\x0c" + bytes([len(raw)]) + raw
    length = len(raw).to_bytes((len(raw).bit_length() + 7) // 8, "big")
    return b"\x0c" + bytes([0x80 | len(length)]) + length + raw


def generate(key_type: str, user_id: str) -> tuple[str, str, str]:
    """(private_key, public_key, fingerprint) of a new key pair of `key_type`."""
    return generate_x509(user_id) if key_type == X509 else generate_ssh()
