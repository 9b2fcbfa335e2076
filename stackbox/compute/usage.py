"""Usage arithmetic for os-simple-tenant-usage (Compute admin guide 5.4.6): how many
hours of a reporting window an instance ran, and the per-project totals in
MB-hours (RAM), vCPU-hours and GB-hours (root + ephemeral disk).

Pure data in, data out: the API module reads the instance rows and renders JSON.
An instance counts from `launched_at` to `terminated_at` (or the window's end while
it still exists), clipped to the window, exactly as Nova reckons it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class InstanceRun:
    """What the arithmetic needs of one instance."""

    uuid: str
    name: str
    project_id: str
    flavor_name: str
    memory_mb: int
    vcpus: int
    local_gb: int  # root + ephemeral
    vm_state: str
    launched_at: dt.datetime | None
    terminated_at: dt.datetime | None


def hours_in_window(run: InstanceRun, start: dt.datetime, stop: dt.datetime) -> float:
    """Hours of [start, stop] during which the instance existed (0 if never launched
    or entirely outside the window)."""
    launched, ended = run.launched_at, run.terminated_at
    if launched is None:
        return 0.0
    if ended is not None and ended < start:
        return 0.0
    if launched > stop:
        return 0.0
    begin = max(launched, start)
    end = min(ended, stop) if ended is not None else stop
    return max((end - begin).total_seconds(), 0.0) / 3600.0


@dataclass
class ProjectUsage:
    project_id: str
    start: dt.datetime
    stop: dt.datetime
    total_hours: float = 0.0
    total_memory_mb_usage: float = 0.0
    total_vcpus_usage: float = 0.0
    total_local_gb_usage: float = 0.0
    servers: list[dict[str, Any]] = field(default_factory=list)


def _iso_us(value: dt.datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def server_usage(
    run: InstanceRun, start: dt.datetime, stop: dt.datetime, now: dt.datetime
) -> dict[str, Any]:
    """One entry of `server_usages`: state is "terminated" once it ended; uptime is
    whole seconds from launch to termination (or to now)."""
    hours = hours_in_window(run, start, stop)
    state = "terminated" if run.terminated_at is not None else run.vm_state
    uptime = 0
    if run.launched_at is not None:
        until = run.terminated_at if run.terminated_at is not None else now
        uptime = int((until - run.launched_at).total_seconds())
    return {
        "hours": hours,
        "flavor": run.flavor_name,
        "instance_id": run.uuid,
        "name": run.name,
        "tenant_id": run.project_id,
        "memory_mb": run.memory_mb,
        "local_gb": run.local_gb,
        "vcpus": run.vcpus,
        "started_at": _iso_us(run.launched_at),
        "ended_at": _iso_us(run.terminated_at),
        "state": state,
        "uptime": uptime,
    }


def summarize(
    runs: list[InstanceRun], start: dt.datetime, stop: dt.datetime, now: dt.datetime
) -> list[ProjectUsage]:
    """Per-project totals, in order of each project's first instance in `runs`."""
    out: dict[str, ProjectUsage] = {}
    for run in runs:
        pu = out.setdefault(run.project_id, ProjectUsage(run.project_id, start, stop))
        entry = server_usage(run, start, stop, now)
        hours = entry["hours"]
        pu.servers.append(entry)
        pu.total_hours += hours
        pu.total_memory_mb_usage += run.memory_mb * hours
        pu.total_vcpus_usage += run.vcpus * hours
        pu.total_local_gb_usage += run.local_gb * hours
    return list(out.values())


def render(pu: ProjectUsage, detailed: bool) -> dict[str, Any]:
    """The JSON of one tenant usage (`server_usages` only when detailed)."""
    body: dict[str, Any] = {
        "tenant_id": pu.project_id,
        "total_local_gb_usage": pu.total_local_gb_usage,
        "total_vcpus_usage": pu.total_vcpus_usage,
        "total_memory_mb_usage": pu.total_memory_mb_usage,
        "total_hours": pu.total_hours,
        "start": pu.start.isoformat(),
        "stop": pu.stop.isoformat(),
    }
    if detailed:
        body["server_usages"] = pu.servers
    return body
