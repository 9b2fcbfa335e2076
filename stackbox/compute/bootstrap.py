"""Compute seed data a fresh cloud needs: the five classic public flavors (m1.tiny to
m1.xlarge, ids "1" to "5", as DevStack creates them). Called by `stackbox up` and
`stackbox db upgrade`; idempotent, and it never touches a flavor that already exists
(an operator may have changed or deleted-and-recreated one)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from stackbox.compute.models import Flavor

# (flavorid, name, memory_mb, root_gb, vcpus)
DEFAULT_FLAVORS: tuple[tuple[str, str, int, int, int], ...] = (
    ("1", "m1.tiny", 512, 1, 1),
    ("2", "m1.small", 2048, 20, 1),
    ("3", "m1.medium", 4096, 40, 2),
    ("4", "m1.large", 8192, 80, 4),
    ("5", "m1.xlarge", 16384, 160, 8),
)


def ensure_default_flavors(s: Session) -> None:
    """Create each seed flavor whose id and name are both still free; flushes, the
    caller commits."""
    for flavorid, name, ram, disk, vcpus in DEFAULT_FLAVORS:
        taken = s.scalar(
            select(Flavor.id).where(or_(Flavor.flavorid == flavorid, Flavor.name == name))
        )
        if taken is not None:
            continue
        s.add(
            Flavor(
                flavorid=flavorid,
                name=name,
                memory_mb=ram,
                root_gb=disk,
                vcpus=vcpus,
                ephemeral_gb=0,
                swap=0,
                rxtx_factor=1.0,
                disabled=False,
                is_public=True,
            )
        )
    s.flush()
