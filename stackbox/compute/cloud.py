"""The cloud's identity and the libvirt domain names made from it.

Every cloud has a persistent id (`models.CloudRecord`, created once in its database, so
all hosts of a scale-out cloud share it; compute hosts learn it from the conductor,
`ConductorAPI.cloud_identity`). Domains are named `sbx-<first 8 hex of the id>-%08x` by
default, so two clouds on one libvirtd (or one cloud whose state dir was wiped) never
collide, and marked with the full id (`virt/ownership.py`).

Naming rule (`domain_name`): an operator's template without `{cloud}` names every
instance as it always did; a template with `{cloud}` (the default) names the instances
made after the cloud got its id, and the older rows (id <= legacy_names_upto) keep the
name they were booted with under the old default, Nova's `instance-%08x`. No instance
ever changes its name.

Not here: who owns a domain (`virt/ownership.py`), the RPC plumbing (`rpcapi.py`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stackbox.compute.models import CloudRecord, Instance

DEFAULT_TEMPLATE = "sbx-{cloud}-%08x"
LEGACY_TEMPLATE = "instance-%08x"  # the default before clouds had ids (Nova's)
CLOUD = "{cloud}"
SHORT = 8  # hex characters of the cloud id in domain names


@dataclass(frozen=True)
class CloudRef:
    """What a compute host knows of its cloud (JSON on the bus as `to_dict`)."""

    cloud_id: str
    legacy_names_upto: int = 0

    @property
    def short(self) -> str:
        return self.cloud_id[:SHORT]

    def to_dict(self) -> dict[str, Any]:
        return {"cloud_id": self.cloud_id, "legacy_names_upto": self.legacy_names_upto}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CloudRef:
        return cls(str(d["cloud_id"]), int(d.get("legacy_names_upto") or 0))


def domain_name(template: str, seq: int, cloud: CloudRef | None = None) -> str:
    """The libvirt domain name of the instance with sequential id `seq` (the module
    docstring's rule). A `{cloud}` template needs `cloud`."""
    if CLOUD in template:
        if cloud is None:
            raise ValueError(f"compute.instance_name_template {template!r} needs the cloud id")
        if seq <= cloud.legacy_names_upto:
            template = LEGACY_TEMPLATE
        template = template.replace(CLOUD, cloud.short)
    try:
        return template % seq
    except (TypeError, ValueError):
        raise ValueError(
            f"compute.instance_name_template {template!r} must take one integer, "
            f"e.g. {DEFAULT_TEMPLATE!r}"
        ) from None


def check_template(template: str) -> None:
    """Raise ValueError for a template that cannot name a domain."""
    domain_name(template, 1, CloudRef("0" * 32))


def load_or_create(s: Session) -> CloudRef:
    """The cloud's identity, created on first use (by a database made without the
    migration, which creates it). A concurrent creator wins; we read its row."""
    row = s.get(CloudRecord, 1)
    if row is None:
        upto = s.scalar(select(func.max(Instance.id))) or 0
        try:
            with s.begin_nested():
                s.add(CloudRecord(id=1, cloud_id=uuid.uuid4().hex, legacy_names_upto=upto))
        except IntegrityError:
            pass
        row = s.get(CloudRecord, 1)
        assert row is not None
    return CloudRef(row.cloud_id, row.legacy_names_upto)


def known(s: Session) -> tuple[str | None, frozenset[str]]:
    """This cloud's id (None before it has one; nothing is created) and the uuids of its
    instances that are not deleted, for `stackbox virt domains`."""
    row = s.get(CloudRecord, 1)
    uuids = s.scalars(select(Instance.uuid).where(Instance.deleted.is_(False)))
    return (row.cloud_id if row is not None else None), frozenset(uuids)


def instance_name(s: Session, template: str, seq: int) -> str:
    """The domain name of instance `seq` of the cloud whose database `s` reads."""
    cloud = load_or_create(s) if CLOUD in template else None
    return domain_name(template, seq, cloud)
