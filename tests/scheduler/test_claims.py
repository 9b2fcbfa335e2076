"""Claims on SQLite and PostgreSQL: a node never goes over its ratios, allocations
always add up to *_used, even when many schedulers claim at once."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from stackbox.compute.models import Allocation, ComputeNode
from stackbox.db import Database
from stackbox.scheduler import claims
from tests.scheduler.util import add_node


def _node(db: Database, node_id: int) -> ComputeNode:
    with db.session() as s:
        return s.get_one(ComputeNode, node_id)


def _alloc_sums(db: Database, node_id: int) -> tuple[int, int, int]:
    a = Allocation
    with db.session() as s:
        row = s.execute(
            select(
                func.coalesce(func.sum(a.vcpus), 0),
                func.coalesce(func.sum(a.memory_mb), 0),
                func.coalesce(func.sum(a.disk_gb), 0),
            ).where(a.compute_node_id == node_id)
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


def test_claim_takes_resources_and_records_the_allocation(db: Database) -> None:
    nid = add_node(db, "h1", vcpus=2, memory_mb=4096, local_gb=20)
    with db.session() as s:
        assert claims.claim(s, nid, "vm-1", 2, 1024, 10) is True
    node = _node(db, nid)
    assert (node.vcpus_used, node.memory_mb_used, node.local_gb_used) == (2, 1024, 10)
    assert node.generation == 1
    with db.session() as s:
        assert claims.allocations_of(s, "vm-1") == [
            {"compute_node_id": nid, "vcpus": 2, "memory_mb": 1024, "disk_gb": 10}
        ]


def test_claim_respects_reserved_and_ratios(db: Database) -> None:
    # 4 cpus - 1 reserved, ratio 2.0 -> 6 vcpus; 4096-1024 MiB at 1.0; (10 - 2) GiB at 1.5 = 12.
    nid = add_node(
        db,
        "h1",
        vcpus=4,
        memory_mb=4096,
        local_gb=10,
        reserved_host_cpus=1,
        cpu_allocation_ratio=2.0,
        reserved_host_memory_mb=1024,
        reserved_host_disk_mb=2048,
        disk_allocation_ratio=1.5,
    )
    with db.session() as s:
        assert claims.claim(s, nid, "a", 7, 1, 1) is False  # vcpus over 6
        assert claims.claim(s, nid, "a", 1, 3073, 1) is False  # ram over 3072
        assert claims.claim(s, nid, "a", 1, 1, 13) is False  # disk over 12
        assert claims.claim(s, nid, "a", 6, 3072, 12) is True  # exactly full
        assert claims.claim(s, nid, "b", 0, 1, 0) is False
    node = _node(db, nid)
    assert (node.vcpus_used, node.memory_mb_used, node.local_gb_used) == (6, 3072, 12)
    assert _alloc_sums(db, nid) == (6, 3072, 12)


def test_claim_on_missing_node_fails(db: Database) -> None:
    with db.session() as s:
        assert claims.claim(s, 999_999, "a", 1, 1, 1) is False
        assert claims.allocations_of(s, "a") == []


def test_release_gives_everything_back_once(db: Database) -> None:
    n1 = add_node(db, "h1")
    n2 = add_node(db, "h2")
    with db.session() as s:
        assert claims.claim(s, n1, "vm", 1, 512, 1)
        assert claims.claim(s, n2, "vm", 2, 1024, 2)
        assert claims.claim(s, n1, "other", 1, 256, 0)
    with db.session() as s:
        assert claims.release(s, "vm") == 2
    with db.session() as s:
        assert claims.release(s, "vm") == 0
    assert (_node(db, n1).vcpus_used, _node(db, n1).memory_mb_used) == (1, 256)
    assert (_node(db, n2).vcpus_used, _node(db, n2).local_gb_used) == (0, 0)


def test_move_renames_the_consumer_without_changing_usage(db: Database) -> None:
    nid = add_node(db, "h1")
    with db.session() as s:
        claims.claim(s, nid, "vm", 2, 2048, 5)
    with db.session() as s:
        assert claims.move(s, "vm", "migration:vm") == 1
    with db.session() as s:
        assert claims.allocations_of(s, "vm") == []
        assert claims.allocations_of(s, "migration:vm")[0]["memory_mb"] == 2048
        # The new flavor can now be claimed for the instance on the same node.
        assert claims.claim(s, nid, "vm", 4, 4096, 10)
    assert _node(db, nid).memory_mb_used == 6144
    with db.session() as s:
        assert claims.release(s, "migration:vm") == 1
    assert _node(db, nid).memory_mb_used == 4096


def test_heal_recomputes_used_from_allocations(db: Database) -> None:
    nid = add_node(db, "h1", vcpus_used=7, memory_mb_used=9999, local_gb_used=50)
    with db.session() as s:
        assert claims.claim(s, nid, "vm", 1, 512, 1)  # 8 vcpus used, ok with ratio 4
        assert claims.heal(s, nid) is True
        assert claims.heal(s, 999_999) is False
    node = _node(db, nid)
    assert (node.vcpus_used, node.memory_mb_used, node.local_gb_used) == (1, 512, 1)


def test_concurrent_claims_never_oversell(db: Database) -> None:
    # 4 cpus * 4.0 = 16 vcpus; 8 GiB RAM; 40 GiB disk. Each claim: 1 vcpu, 512 MiB, 3 GiB
    # -> disk runs out first after 13 claims.
    nid = add_node(db, "h1", vcpus=4, memory_mb=8192, local_gb=40)
    n_threads, per_thread = 8, 6
    won: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(n_threads)

    def worker(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            consumer = f"vm-{t}-{i}"
            try:
                with db.session() as s:
                    ok = claims.claim(s, nid, consumer, 1, 512, 3)
                    if ok and i % 3 == 2:
                        claims.release(s, f"vm-{t}-{i - 1}")
                if ok:
                    with lock:
                        won.append(consumer)
            except BaseException as exc:  # any DB error is a failure of the test
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    node = _node(db, nid)
    assert node.vcpus_used <= 16 and node.memory_mb_used <= 8192 and node.local_gb_used <= 40
    assert _alloc_sums(db, nid) == (node.vcpus_used, node.memory_mb_used, node.local_gb_used)
    assert node.local_gb_used > 40 - 3  # the node filled up: the race was real
    assert len(won) >= 13


def test_group_policies_are_judged_on_every_members_allocation(db: Database) -> None:
    """A second scheduler with a stale view cannot break a hard (anti-)affinity group:
    the claim counts the members' allocations under the group's row lock."""
    import uuid

    from stackbox.compute.opmodels import ServerGroup, ServerGroupMember

    h1, h2 = add_node(db, f"g1-{uuid.uuid4().hex[:4]}"), add_node(db, f"g2-{uuid.uuid4().hex[:4]}")
    groups = {}
    with db.session() as s:
        for policy in ("anti-affinity", "affinity"):
            g = ServerGroup(uuid=str(uuid.uuid4()), name=policy, project_id="p", user_id="u",
                            policy=policy, rules={})  # fmt: skip
            s.add(g)
            s.flush()
            tag = uuid.uuid4().hex[:6]
            for m in ("a", "b"):
                s.add(ServerGroupMember(group_id=g.id, instance_uuid=f"{policy}-{m}-{tag}"))
            groups[policy] = ({"uuid": g.uuid, "policy": policy, "rules": {}}, tag)
    for policy, (group, tag) in groups.items():
        first, second = f"{policy}-a-{tag}", f"{policy}-b-{tag}"
        with db.session() as s:
            assert claims.claim(s, h1, first, 1, 256, 1)
            assert claims.group_allows(s, h1, first, group)
        with db.session() as s:
            assert claims.claim(s, h1, second, 1, 256, 1)
            same_host_ok = claims.group_allows(s, h1, second, group)
            s.rollback()
        with db.session() as s:
            assert claims.claim(s, h2, second, 1, 256, 1)
            other_host_ok = claims.group_allows(s, h2, second, group)
            s.rollback()
        if policy == "anti-affinity":
            assert (same_host_ok, other_host_ok) == (False, True)
        else:
            assert (same_host_ok, other_host_ok) == (True, False)
        with db.session() as s:
            claims.release(s, first)
