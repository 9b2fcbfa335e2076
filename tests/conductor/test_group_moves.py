"""Server groups hold after create: unshelve of an offloaded member and resize schedule
from the request spec stored at create (stackbox/compute/requestspec.py), on a whole
in-process cloud with two compute hosts on test:///default (tests/conductor/stack.py).
cmp1 is the weighers' favourite; landing on cmp2 needs a reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select

from stackbox.compute import requestspec
from stackbox.compute.models import Instance, InstanceFault
from stackbox.compute.opmodels import RequestSpecRow, ServerGroup, ServerGroupMember
from tests.conductor.stack import Stack, make_stack
from tests.conftest import pg_schema_url


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    url = None
    if request.param == "postgres":
        url = pg_schema_url(request.getfixturevalue("pg_url"))
    yield from make_stack(url)


@pytest.fixture(autouse=True)
def _hosts_enabled(stack: Stack) -> Iterator[None]:
    yield
    for host in stack.computes:
        stack.set_disabled(host, False)


def _spec(stack: Stack, sid: str) -> dict:
    with stack.state.db.session() as s:
        inst = s.scalar(select(Instance).where(Instance.uuid == sid))
        assert inst is not None
        return requestspec.load(s, inst)


def _last_fault(stack: Stack, sid: str) -> str:
    with stack.state.db.session() as s:
        faults = s.scalars(select(InstanceFault.message).where(InstanceFault.instance_uuid == sid))
        return list(faults)[-1]


def _anti_affinity_pair(stack: Stack) -> tuple[str, str, str]:
    gid = stack.group("anti-affinity")
    a, b = stack.boot(gid), stack.boot(gid)
    assert (stack.host_of(a), stack.host_of(b)) == ("cmp1", "cmp2")
    return gid, a, b


def test_unshelve_keeps_anti_affinity(stack: Stack) -> None:
    _gid, a, b = _anti_affinity_pair(stack)
    stack.shelve_offload(a)  # cmp1 is now the emptiest and the biggest host
    stack.shelve_offload(b)
    stack.unshelve(b)
    assert stack.host_of(b) == "cmp1"  # the favourite, free now
    stack.unshelve(a)
    assert stack.server(a)["status"] == "ACTIVE"
    assert stack.host_of(a) == "cmp2"  # not next to b, though cmp1 weighs better


def test_unshelve_with_only_the_other_members_host_finds_no_host(stack: Stack) -> None:
    _gid, _a, b = _anti_affinity_pair(stack)
    stack.shelve_offload(b)
    stack.set_disabled("cmp2", True)
    stack.unshelve(b)
    s = stack.server(b)
    assert s["status"] == "SHELVED_OFFLOADED" and s["OS-EXT-SRV-ATTR:host"] is None
    assert _last_fault(stack, b).startswith("No valid host was found.")
    stack.set_disabled("cmp2", False)
    stack.unshelve(b)
    assert stack.host_of(b) == "cmp2"


def test_unshelve_keeps_affinity(stack: Stack) -> None:
    gid = stack.group("affinity")
    a = stack.boot(gid, availability_zone="nova:cmp2")  # forced onto the lesser host
    b = stack.boot(gid)
    assert stack.host_of(b) == "cmp2"
    stack.shelve_offload(b)
    stack.unshelve(b)
    assert stack.host_of(b) == "cmp2"  # with a, though cmp1 weighs better
    # only a's host could take it: when it cannot, there is no host
    stack.shelve_offload(b)
    stack.set_disabled("cmp2", True)
    stack.unshelve(b)
    assert stack.server(b)["status"] == "SHELVED_OFFLOADED"
    assert _last_fault(stack, b).startswith("No valid host was found.")
    # the create's forced host binds the create only
    assert _spec(stack, a)["force_host"] == "cmp2"
    stack.shelve_offload(a)
    stack.set_disabled("cmp2", False)
    stack.unshelve(a)
    assert stack.host_of(a) == "cmp1"


def test_resize_keeps_the_group_and_confirm_stores_the_flavor(stack: Stack) -> None:
    gid, a, b = _anti_affinity_pair(stack)
    stack.act(a, {"resize": {"flavorRef": "rs-medium"}})
    stack.wait(a, "VERIFY_RESIZE")
    assert _spec(stack, a)["flavor"]["flavorid"] == "rs-small"  # not stored before confirm
    stack.act(a, {"confirmResize": None})
    stack.wait(a, "ACTIVE")
    spec = _spec(stack, a)
    assert spec["flavor"]["flavorid"] == "rs-medium" and spec["flavor"]["memory_mb"] == 96
    assert spec["group"]["uuid"] == gid and spec["group"]["policy"] == "anti-affinity"
    # a revert keeps the stored (confirmed) flavor
    stack.act(a, {"resize": {"flavorRef": "rs-large"}})
    stack.wait(a, "VERIFY_RESIZE")
    stack.act(a, {"revertResize": None})
    stack.wait(a, "ACTIVE")
    assert _spec(stack, a)["flavor"]["flavorid"] == "rs-medium"
    # the resized member still keeps away from the other one
    stack.shelve_offload(a)
    stack.shelve_offload(b)
    stack.unshelve(b)
    stack.unshelve(a)
    assert {stack.host_of(a), stack.host_of(b)} == {"cmp1", "cmp2"}


def test_resize_refused_where_it_would_break_the_group(stack: Stack) -> None:
    """Two anti-affinity members on one host (as an operator's move can leave them):
    resizing one there finds no host, as Nova's group filter answers."""
    gid, a, b = _anti_affinity_pair(stack)
    stack.shelve_offload(b)
    stack.set_disabled("cmp2", True)
    c = stack.boot()  # not in the group yet: lands on cmp1 next to a
    with stack.state.db.session() as s:
        group_id = s.scalar(select(ServerGroup.id).where(ServerGroup.uuid == gid))
        s.add(ServerGroupMember(group_id=group_id, instance_uuid=c))
    stack.act(a, {"resize": {"flavorRef": "rs-medium"}})
    assert stack.wait(a, "ACTIVE")["flavor"]["original_name"] == "rs.small"
    assert _last_fault(stack, a).startswith("No valid host was found.")
    assert _spec(stack, a)["flavor"]["flavorid"] == "rs-small"


def test_a_server_older_than_request_specs_gets_one_from_its_row(stack: Stack) -> None:
    _gid, a, b = _anti_affinity_pair(stack)
    with stack.state.db.session() as s:  # as before migration 0007
        s.execute(delete(RequestSpecRow).where(RequestSpecRow.instance_uuid.in_([a, b])))
    stack.shelve_offload(a)
    stack.unshelve(a)
    assert stack.host_of(a) == "cmp1"
    stack.shelve_offload(b)
    stack.shelve_offload(a)
    stack.unshelve(a)
    stack.unshelve(b)
    assert stack.host_of(a) == "cmp1" and stack.host_of(b) == "cmp2"
    with stack.state.db.session() as s:
        stored = s.scalar(select(RequestSpecRow.spec).where(RequestSpecRow.instance_uuid == b))
    assert stored is not None and stored["group"]["policy"] == "anti-affinity"
    assert "hosts" not in stored["group"]
