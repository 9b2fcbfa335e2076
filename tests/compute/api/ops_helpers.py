"""Helpers of the operator API tests (services, hypervisors, zones, hosts, usage):
compute hosts made as a running compute service leaves them (a heartbeating service row
and its compute node), with names unique to the test so that the session-wide cloud's
other hosts never get in the way."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from stackbox.compute.models import ComputeNode
from stackbox.service.models import ServiceRecord
from tests.compute.api.conftest import Cloud, unique


def add_host(
    cloud: Cloud,
    *,
    binary: str = "stackbox-compute",
    node: bool = True,
    seen: dt.datetime | None = None,
    **values: Any,
) -> str:
    """A host with a `binary` service last seen `seen` (default: now) and, for compute
    services, a compute node (8 vCPUs, 8 GiB, 100 GB unless `values` say otherwise)."""
    host = unique("cmp")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        s.add(
            ServiceRecord(
                uuid=str(uuid.uuid4()),
                binary=binary,
                topic=binary.removeprefix("stackbox-"),
                host=host,
                last_seen_up=seen or now,
                report_count=1,
            )
        )
        if node and binary == "stackbox-compute":
            cols: dict[str, Any] = {
                "vcpus": 8,
                "memory_mb": 8192,
                "local_gb": 100,
                "reserved_host_memory_mb": 512,
                "hypervisor_type": "QEMU",
                "hypervisor_version": 8002000,
                "host_ip": "192.0.2.10",
                "cpu_info": {"arch": "x86_64", "model": "Nehalem", "vendor": "Intel"},
                **values,
            }
            s.add(ComputeNode(uuid=str(uuid.uuid4()), host=host, hypervisor_hostname=host, **cols))
        s.commit()
    return host


def node_of(cloud: Cloud, host: str) -> ComputeNode:
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        node = s.query(ComputeNode).filter_by(host=host).one()
        s.expunge(node)
        return node


def service_of(cloud: Cloud, host: str) -> ServiceRecord:
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        rec = s.query(ServiceRecord).filter_by(host=host).one()
        s.expunge(rec)
        return rec
