"""Which URLs an image may be downloaded from (the legacy `import` task's
`import_from`, a web-download import's `uri`, and every redirect they follow): Glance's
rules and messages, plus one of stackbox's own.

Glance's part (`validate_location_uri`, `validate_import_uri` and its
`[import_filtering_opts]`): the location must start with `http://` or `https://`
(`file://` gets its own refusal); its scheme, host and explicit port must pass the
allowed/disallowed lists (an allowed list, when set, wins over its disallowed one); a
host must be a plain IP address or a name that resolves (numeric spellings such as
`2130706433` or `127.1` are refused).

stackbox's part: every address the host resolves to must be a public one (not
loopback, private, link-local as the metadata service, multicast, reserved or
unspecified) unless the operator sets `[image_import] allow_internal_hosts`. The
download then connects to exactly the addresses checked here, so a name cannot resolve
to something else in between.

Pure rules: name resolution is a function passed in; no HTTP here."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from stackbox.config import Config

Resolver = Callable[[str], Sequence[str]]
FILE_REFUSED = "File based imports are not allowed. Please use a non-local source of image data."


class Refused(ValueError):
    """The URL may not be used; `str()` is the message Glance gives."""


@dataclass(frozen=True)
class ImportFilter:
    allowed_schemes: tuple[str, ...] = ("http", "https")
    disallowed_schemes: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    disallowed_hosts: tuple[str, ...] = ()
    allowed_ports: tuple[int, ...] = (80, 443)
    disallowed_ports: tuple[int, ...] = ()
    allow_internal_hosts: bool = False

    @classmethod
    def from_config(cls, cfg: Config) -> ImportFilter:
        def get(name: str) -> list[str]:
            return list(cfg.get("image_import", name))

        return cls(
            allowed_schemes=tuple(get("allowed_schemes")),
            disallowed_schemes=tuple(get("disallowed_schemes")),
            allowed_hosts=tuple(get("allowed_hosts")),
            disallowed_hosts=tuple(get("disallowed_hosts")),
            allowed_ports=tuple(cfg.get("image_import", "allowed_ports")),
            disallowed_ports=tuple(cfg.get("image_import", "disallowed_ports")),
            allow_internal_hosts=bool(cfg.get("image_import", "allow_internal_hosts")),
        )


@dataclass(frozen=True)
class Target:
    """A URL that passed, with the addresses its host was checked at."""

    url: str
    host: str
    addresses: tuple[str, ...]


def check_location(location: object) -> str:
    """Glance's first check of `import_from`: an http(s) URL."""
    if not location or not isinstance(location, str):
        raise Refused(f"Invalid location: {location}")
    if location.startswith(("http://", "https://")):
        return location
    if location.startswith(("file:///", "filesystem:///")):
        raise Refused(FILE_REFUSED)
    raise Refused(
        "The given uri is not valid. Please specify a valid uri from the following "
        "list of supported uri ['http']"
    )


LEGACY = "legacy import task"  # what a refusal names: Glance's words for each caller
WEB_DOWNLOAD = "web-download"


def check(url: object, flt: ImportFilter, resolve: Resolver, purpose: str = LEGACY) -> Target:
    """The URL and its host's addresses when `flt` lets it through, else Refused
    (Glance's message, naming `purpose`)."""
    refused = Refused(f"URI for {purpose} does not pass filtering: {url}")
    if not isinstance(url, str) or not url:
        raise refused
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:  # a port out of range or not a number
        raise refused from None
    scheme = parts.scheme
    if not scheme or not _listed(scheme, flt.allowed_schemes, flt.disallowed_schemes):
        raise refused
    name = _literal_or_name(host)
    if name is None or not _listed(name, flt.allowed_hosts, flt.disallowed_hosts):
        raise refused
    if port and not _listed(port, flt.allowed_ports, flt.disallowed_ports):
        raise refused
    try:
        addresses = tuple(dict.fromkeys(resolve(name)))
    except OSError:
        raise refused from None
    if not addresses:
        raise refused
    if not flt.allow_internal_hosts and not all(_public(a) for a in addresses):
        raise refused
    return Target(url, name, addresses)


def _listed(value: object, allowed: Sequence[object], disallowed: Sequence[object]) -> bool:
    if allowed:
        return value in allowed
    return value not in disallowed


def _literal_or_name(host: str | None) -> str | None:
    """An IP address in its standard spelling, or a host name; None for no host or a
    numeric spelling that only some resolvers read as an address."""
    if not host:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if all(c.isdigit() or c == "." for c in host):
        return None
    return host


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str) -> list[str]:
    """Every address `host` resolves to (an IP address resolves to itself). A name is
    looked up with a trailing dot, so it is never read as a numeric address."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    name = host if host.endswith(".") else host + "."
    infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]
