"""Helpers to put compute nodes and their services into a test database."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import insert

from stackbox.compute.models import ComputeNode
from stackbox.db import Database
from stackbox.db.base import utcnow
from stackbox.service.models import ServiceRecord


def add_node(
    db: Database,
    host: str,
    *,
    vcpus: int = 8,
    memory_mb: int = 16384,
    local_gb: int = 100,
    disabled: bool = False,
    forced_down: bool = False,
    last_seen: dt.datetime | None = None,
    service: bool = True,
    **node: Any,
) -> int:
    """Insert a compute node (reserved_host_memory_mb 0 unless given) and, unless
    service=False, its stackbox-compute service seen now. Returns the node id."""
    now = utcnow()
    values: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "host": host,
        "hypervisor_hostname": host,
        "vcpus": vcpus,
        "memory_mb": memory_mb,
        "local_gb": local_gb,
        "reserved_host_memory_mb": 0,
        "supported_instances": [["x86_64", "qemu", "hvm"]],
        "cpu_info": {},
        "created_at": now,
        "updated_at": now,
    }
    values.update(node)
    with db.session() as s:
        node_id = s.execute(
            insert(ComputeNode).values(**values).returning(ComputeNode.id)
        ).scalar_one()
        if service:
            s.execute(
                insert(ServiceRecord).values(
                    uuid=str(uuid.uuid4()),
                    binary="stackbox-compute",
                    topic="compute",
                    host=host,
                    disabled=disabled,
                    forced_down=forced_down,
                    last_seen_up=last_seen or now,
                    report_count=1,
                    version=1,
                )
            )
    return int(node_id)
