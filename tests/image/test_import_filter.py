"""Which import URLs pass: Glance's scheme/host/port lists and host spellings, and
stackbox's refusal of non-public addresses (name resolution passed in, no network)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from stackbox import config
from stackbox.image.import_filter import ImportFilter, Refused, check, check_location

NAMES = {
    "images.example.com": ["93.184.215.14"],
    "inside.example.com": ["10.1.2.3"],
    "mixed.example.com": ["93.184.215.14", "127.0.0.1"],
    "v6.example.com": ["2606:4700::6810:84e5"],
    "mapped.example.com": ["::ffff:169.254.169.254"],
}


def resolve(host: str) -> Sequence[str]:
    if host in NAMES:
        return NAMES[host]
    if host[0].isdigit() or ":" in host:
        return [host]
    raise OSError("no such host")


def passes(url: str, flt: ImportFilter | None = None) -> bool:
    try:
        check(url, flt or ImportFilter(), resolve)
    except Refused as exc:
        assert str(exc) == f"URI for legacy import task does not pass filtering: {url}"
        return False
    return True


def test_defaults_are_glances_and_public_addresses_only() -> None:
    assert ImportFilter.from_config(config.load(env={})) == ImportFilter()
    assert passes("http://images.example.com/disk.qcow2")
    assert passes("https://images.example.com:443/disk.qcow2")
    assert passes("http://v6.example.com/d")
    assert passes("http://93.184.215.14/d")
    for url in (
        "http://inside.example.com/d",  # private
        "http://mixed.example.com/d",  # one address is loopback
        "http://mapped.example.com/d",  # the metadata service behind an IPv6 spelling
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/d",
        "http://0.0.0.0/d",
        "http://224.0.0.1/d",
        "http://unknown.example.com/d",  # does not resolve
        "http://images.example.com:8080/d",  # port not allowed
        "http://images.example.com:99999/d",  # not a port
        "gopher://images.example.com/d",
    ):
        assert not passes(url), url


def test_numeric_spellings_of_addresses_are_refused() -> None:
    flt = ImportFilter(allow_internal_hosts=True)
    for host in ("2130706433", "127.1", "10.1"):
        assert not passes(f"http://{host}/d", flt), host


def test_internal_addresses_when_the_operator_allows_them() -> None:
    flt = ImportFilter(allow_internal_hosts=True)
    target = check("http://inside.example.com/d", flt, resolve)
    assert target.host == "inside.example.com" and target.addresses == ("10.1.2.3",)
    assert passes("http://127.0.0.1/d", flt)


def test_allowed_lists_win_over_disallowed_ones() -> None:
    flt = ImportFilter(allowed_hosts=("images.example.com",), disallowed_hosts=("x",))
    assert passes("http://images.example.com/d", flt)
    assert not passes("http://v6.example.com/d", flt)
    flt = ImportFilter(disallowed_hosts=("images.example.com",))
    assert not passes("http://images.example.com/d", flt)
    assert passes("http://v6.example.com/d", flt)
    flt = ImportFilter(allowed_ports=(), disallowed_ports=(443,))
    assert passes("http://images.example.com:8080/d", flt)
    assert not passes("https://images.example.com:443/d", flt)
    flt = ImportFilter(allowed_schemes=(), disallowed_schemes=("https",))
    assert passes("http://images.example.com/d", flt)
    assert not passes("https://images.example.com/d", flt)


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("", "Invalid location: "),
        (None, "Invalid location: None"),
        ("file:///etc/passwd", "File based imports are not allowed."),
        ("filesystem:///var/lib/x", "File based imports are not allowed."),
        ("file://host/etc/passwd", "The given uri is not valid."),
        ("HTTP://images.example.com/d", "The given uri is not valid."),
    ],
)
def test_location_must_be_http(location: object, message: str) -> None:
    with pytest.raises(Refused, match=message):
        check_location(location)
    assert check_location("https://x/y") == "https://x/y"
