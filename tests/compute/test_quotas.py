"""stackbox/compute/quotas.py on SQLite and PostgreSQL: limits (user > project > class
"default" > config), usage counted from rows, Nova's messages, the lock row, and the
multi-create arithmetic."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from stackbox import config as sbconfig
from stackbox.compute import quotas
from stackbox.compute.models import Instance, KeyPair
from stackbox.compute.opmodels import QuotaLock, ServerGroup, ServerGroupMember
from stackbox.db.engine import Database


@pytest.fixture
def s(database_url: str) -> Iterator[Session]:
    db = Database(database_url)
    with db.session() as session:
        yield session
        session.rollback()
    db.dispose()


def _pid() -> str:
    return uuid.uuid4().hex


def _inst(s: Session, project: str, user: str, vcpus: int, ram: int, **kw: object) -> None:
    flavor = {"flavorid": "f", "vcpus": vcpus, "memory_mb": ram}
    kw.setdefault("vm_state", "active")
    s.add(
        Instance(
            uuid=str(uuid.uuid4()), display_name="x", hostname="x", project_id=project,
            user_id=user, flavor=flavor, power_state=1,
            reservation_id="r-abcdefgh", image_meta={}, **kw,
        )
    )  # fmt: skip
    s.flush()


def test_defaults_are_novas() -> None:
    d = quotas.config_defaults(None)
    assert (d["instances"], d["cores"], d["ram"]) == (10, 20, 51200)
    assert (d["key_pairs"], d["metadata_items"]) == (100, 128)
    assert (d["server_groups"], d["server_group_members"]) == (10, 10)
    cfg = sbconfig.load(env={"STACKBOX_QUOTA__INSTANCES": "3"})
    assert quotas.config_defaults(cfg)["instances"] == 3


def test_limit_precedence(s: Session) -> None:
    p, u = _pid(), _pid()
    assert quotas.limits(s, p)["cores"] == 20
    quotas.set_class(s, "default", {"cores": 30})
    try:
        assert quotas.limits(s, p)["cores"] == 30
        quotas.set_limits(s, p, "", {"cores": 40})
        assert quotas.limits(s, p)["cores"] == 40
        quotas.set_limits(s, p, u, {"cores": 5})
        assert quotas.limits(s, p, u)["cores"] == 5 and quotas.limits(s, p)["cores"] == 40
        quotas.delete_limits(s, p)
        assert quotas.limits(s, p, u)["cores"] == 30
    finally:
        quotas.set_class(s, "default", {"cores": 20})


def test_usage_counts_rows(s: Session) -> None:
    p, u1, u2 = _pid(), _pid(), _pid()
    _inst(s, p, u1, 2, 512)
    _inst(s, p, u2, 1, 256)
    _inst(s, p, u2, 4, 4096, deleted=True)
    _inst(s, p, u1, 1, 64, vm_state="shelved_offloaded")  # counts, as in Nova
    # resizing: the larger of both flavors
    _inst(s, p, u1, 1, 128, new_flavor={"vcpus": 3, "memory_mb": 64})
    s.add(KeyPair(name="k", user_id=u1, fingerprint="f", public_key="k"))
    s.add(
        ServerGroup(uuid=str(uuid.uuid4()), name="g", project_id=p, user_id=u2, policy="affinity")
    )
    s.flush()
    assert quotas.usage(s, p) == {
        "instances": 4, "cores": 7, "ram": 960, "server_groups": 1, "key_pairs": 0,
    }  # fmt: skip
    assert quotas.usage(s, p, u1) == {
        "instances": 3, "cores": 6, "ram": 704, "server_groups": 0, "key_pairs": 1,
    }  # fmt: skip


def test_check_messages_and_lock_row(s: Session) -> None:
    p, u = _pid(), _pid()
    quotas.set_limits(s, p, "", {"instances": 1, "cores": 1, "server_groups": 0, "key_pairs": 0})
    _inst(s, p, u, 1, 64)
    with pytest.raises(quotas.QuotaExceeded) as e:
        quotas.check(s, p, u, {"instances": 1})
    assert e.value.status == 403
    assert e.value.message == (
        "Quota exceeded for instances: Requested 1, but already used 1 of 1 instances"
    )
    assert s.get(QuotaLock, p) is not None
    gen = s.get(QuotaLock, p).generation  # type: ignore[union-attr]
    with pytest.raises(quotas.QuotaExceeded) as e:
        quotas.check(s, p, u, {"instances": 1, "cores": 2})
    assert e.value.message == (
        "Quota exceeded for cores, instances: Requested 2, 1, but already used 1, 1 of 1, 1 "
        "cores, instances"
    )
    s.expire_all()
    assert s.get(QuotaLock, p).generation == gen + 1  # type: ignore[union-attr]
    with pytest.raises(quotas.QuotaExceeded, match="too many server groups"):
        quotas.check(s, p, u, {"server_groups": 1})
    with pytest.raises(quotas.QuotaExceeded, match="too many key pairs"):
        quotas.check(s, p, u, {"key_pairs": 1})
    quotas.check(s, p, u, {"ram": 10})  # fits


def test_unlimited_and_group_members(s: Session) -> None:
    p, u = _pid(), _pid()
    quotas.set_limits(s, p, "", {"instances": -1, "server_group_members": 1})
    for _ in range(12):
        _inst(s, p, u, 0, 0)
    quotas.check(s, p, u, {"instances": 100})
    g = ServerGroup(uuid=str(uuid.uuid4()), name="g", project_id=p, user_id=u, policy="affinity")
    s.add(g)
    s.flush()
    quotas.check(s, p, u, {"server_group_members": 1}, group_uuid=g.uuid)
    s.add(ServerGroupMember(group_id=g.id, instance_uuid=str(uuid.uuid4())))
    s.flush()
    with pytest.raises(quotas.QuotaExceeded, match="too many servers in group"):
        quotas.check(s, p, u, {"server_group_members": 1}, group_uuid=g.uuid)


def test_instances_allowed_multi_create(s: Session) -> None:
    p, u = _pid(), _pid()
    quotas.set_limits(s, p, "", {"instances": 10, "cores": 6, "ram": 51200})
    _inst(s, p, u, 2, 64)
    assert quotas.instances_allowed(s, p, u, 1, 64, 1, 3) == 3
    assert quotas.instances_allowed(s, p, u, 2, 64, 1, 5) == 2  # cores: 4 left
    with pytest.raises(quotas.QuotaExceeded) as e:
        quotas.instances_allowed(s, p, u, 2, 64, 3, 5)
    assert e.value.message == (
        "Quota exceeded for cores: Requested 10, but already used 2 of 6 cores"
    )
