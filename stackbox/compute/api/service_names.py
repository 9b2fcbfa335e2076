"""The service binaries as the Compute API names them: Nova's names (`nova-compute`,
`nova-conductor`, `nova-scheduler`), which OpenStack clients, Tempest, Ansible and
operators' scripts know, for stackbox's own (`stackbox-<role>`, kept in the services
table, the logs and `stackbox status`). This is the one mapping between the two:
every Compute API response that shows a binary (os-services, availability zone
detail) goes through `public`, and every filter or body naming one (os-services
`?binary=`, the pre-2.53 enable/disable bodies) through `internal`, which also takes
stackbox's names, for operators who already used them.

`stackbox-api` is Nova's `nova-osapi_compute`: like Nova, the Compute API lists no API
service (in os-services, os-hosts, zone detail), `API_BINARIES`. Every role of
`stackbox.service.roles:ROLES` has an entry (a test checks it), so a new role gets a
deliberate name rather than leaking `stackbox-<role>` to clients. What a binary does
(compute hosts and their zones) belongs to `stackbox.service.registry`, not here.
"""

from __future__ import annotations

NOVA_NAMES: dict[str, str] = {
    "stackbox-api": "nova-osapi_compute",
    "stackbox-conductor": "nova-conductor",
    "stackbox-scheduler": "nova-scheduler",
    "stackbox-compute": "nova-compute",
}
_STACKBOX_NAMES: dict[str, str] = {nova: ours for ours, nova in NOVA_NAMES.items()}

# Not RPC services in Nova: never listed by the Compute API.
API_BINARIES = frozenset({"stackbox-api"})


def public(binary: str) -> str:
    """The name the Compute API shows for the stored `binary`."""
    return NOVA_NAMES.get(binary, binary)


def internal(name: str) -> str:
    """The stored binary a client's `name` means: Nova's name or stackbox's own."""
    return _STACKBOX_NAMES.get(name, name)


def listed(binary: str) -> bool:
    """Whether the Compute API's lists show a service of this binary."""
    return binary not in API_BINARIES
