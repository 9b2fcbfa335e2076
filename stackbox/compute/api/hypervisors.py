"""Hypervisors (admin): the compute nodes with their service's state and status.

GET /v2.1/os-hypervisors (+ /detail, /{id}, /statistics, /{id}/uptime, and before 2.53
/{pattern}/search and /{pattern}/servers). As Nova by microversion: 2.28 returns
`cpu_info` as an object (a JSON string before); 2.53 names hypervisors and services by
uuid, pages lists (`limit`, `marker`), filters by `hypervisor_hostname_pattern` and
adds `?with_servers=`; 2.88 drops the resource counters from the views, moves `uptime`
into show/detail and removes /statistics, /uptime (404). `memory_mb_used` and
`local_gb_used` count the host's reservation, as Nova reports them.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from typing import Any

from sqlalchemy import select

from stackbox import bus as sbbus
from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.compute.api import common, lookup
from stackbox.compute.api.microversion import version
from stackbox.compute.api.services import compute_services, state_of, status_of
from stackbox.compute.cloud import instance_name
from stackbox.compute.models import ComputeNode, Instance
from stackbox.compute.rpcapi import ComputeAPI

COUNTERS = (
    "vcpus",
    "memory_mb",
    "local_gb",
    "vcpus_used",
    "memory_mb_used",
    "local_gb_used",
    "free_ram_mb",
    "free_disk_gb",
    "current_workload",
    "running_vms",
    "disk_available_least",
)


def counters(node: ComputeNode) -> dict[str, int]:
    """The resource counters of one node, in Nova's reckoning."""
    mem_used = node.memory_mb_used + node.reserved_host_memory_mb
    disk_used = node.local_gb_used + node.reserved_host_disk_mb // 1024
    return {
        "vcpus": node.vcpus,
        "memory_mb": node.memory_mb,
        "local_gb": node.local_gb,
        "vcpus_used": node.vcpus_used,
        "memory_mb_used": mem_used,
        "local_gb_used": disk_used,
        "free_ram_mb": node.memory_mb - mem_used,
        "free_disk_gb": node.local_gb - disk_used,
        "current_workload": 0,
        "running_vms": node.running_vms,
        "disk_available_least": int(node.free_disk_gb or 0),
    }


def host_uptime(req: Req, node: ComputeNode) -> str | None:
    """The node's `uptime` line, asked of its compute host over the bus (as Nova asks
    the host); None when the host is down or does not answer in a few seconds."""
    svc = compute_services(req).get(node.host)
    if req.state.bus is None or svc is None or state_of(req, svc) != "up":
        return None
    try:
        result: str | None = lookup.send(ComputeAPI(req.state.bus).get_host_uptime, node.host)
    except sbbus.BusError:
        return None
    return result


def _servers(req: Req, node: ComputeNode) -> list[dict[str, str]]:
    q = (
        select(Instance.uuid, Instance.display_name, Instance.id)
        .where(Instance.host == node.host, Instance.deleted.is_(False))
        .order_by(Instance.id)
    )
    template = str(req.state.cfg.get("compute", "instance_name_template"))
    out = []
    for uuid, _name, num in req.db.execute(q):
        out.append({"name": instance_name(req.db, template, num), "uuid": uuid})
    return out


def view(
    req: Req, node: ComputeNode, *, detail: bool, servers: bool = False, uptime: bool = False
) -> dict[str, Any]:
    v = version(req)
    svc = compute_services(req).get(node.host)
    body: dict[str, Any] = {
        "id": node.uuid if v >= (2, 53) else node.id,
        "hypervisor_hostname": node.hypervisor_hostname,
        "state": state_of(req, svc) if svc is not None else "down",
        "status": status_of(svc) if svc is not None else "disabled",
    }
    if detail:
        body["hypervisor_type"] = node.hypervisor_type
        body["hypervisor_version"] = node.hypervisor_version
        body["host_ip"] = node.host_ip
        body["service"] = {
            "id": (svc.uuid if v >= (2, 53) else svc.id) if svc is not None else None,
            "host": node.host,
            "disabled_reason": svc.disabled_reason if svc is not None else None,
        }
        if v < (2, 88):
            body.update(counters(node))
            cpu = node.cpu_info or {}
            body["cpu_info"] = cpu if v >= (2, 28) else json.dumps(cpu)
        else:
            body["uptime"] = host_uptime(req, node)
    if uptime:
        body["uptime"] = host_uptime(req, node)
    if servers:
        found = _servers(req, node)
        if found or v < (2, 53):
            body["servers"] = found
    return body


def _find(req: Req, ident: str) -> ComputeNode:
    node = None
    if version(req) >= (2, 53):
        try:
            uuidlib.UUID(ident)
        except ValueError:
            raise errors.BadRequest(f"Invalid uuid {ident}") from None
        node = req.db.scalar(select(ComputeNode).where(ComputeNode.uuid == ident))
    elif ident.isdigit():
        node = req.db.get(ComputeNode, int(ident))
    if node is None:
        raise errors.NotFound(f"Hypervisor with ID '{ident}' could not be found.")
    return node


def _pattern(req: Req, pattern: str) -> list[ComputeNode]:
    q = (
        select(ComputeNode)
        .where(ComputeNode.hypervisor_hostname.contains(pattern, autoescape=True))
        .order_by(ComputeNode.id)
    )
    nodes = list(req.db.scalars(q))
    if not nodes:
        raise errors.NotFound(f"No hypervisor matching '{pattern}' could be found.")
    return nodes


def _listing(req: Req, detail: bool) -> dict:
    v = version(req)
    q = select(ComputeNode).order_by(ComputeNode.id)
    with_servers = False
    limit = 0
    if v >= (2, 53):
        allowed = {"limit", "marker", "hypervisor_hostname_pattern", "with_servers"}
        common.reject_unknown_query(req, allowed)
        with_servers = bool(req.query_bool("with_servers"))
        pattern = req.query.get("hypervisor_hostname_pattern")
        if pattern is not None:
            if "limit" in req.query or "marker" in req.query:
                raise errors.BadRequest(
                    "Paging over hypervisors with the hypervisor_hostname_pattern query "
                    "parameter is not supported."
                )
            return {
                "hypervisors": [
                    view(req, n, detail=detail, servers=with_servers)
                    for n in _pattern(req, pattern)
                ]
            }
        limit, marker = common.paging(req)
        if marker is not None:
            mark = req.db.scalar(select(ComputeNode).where(ComputeNode.uuid == marker))
            if mark is None:
                raise errors.BadRequest(f"marker [{marker}] not found")
            q = q.where(ComputeNode.id > mark.id)
        q = q.limit(limit)
    nodes = list(req.db.scalars(q))
    body: dict[str, Any] = {
        "hypervisors": [view(req, n, detail=detail, servers=with_servers) for n in nodes]
    }
    if v >= (2, 53) and nodes and len(nodes) == limit:
        where = "os-hypervisors/detail" if detail else "os-hypervisors"
        body["hypervisors_links"] = common.next_link_keeping(req, where, nodes[-1].uuid)
    return body


def statistics(req: Req) -> dict[str, int]:
    nodes = list(req.db.scalars(select(ComputeNode)))
    totals = dict.fromkeys(COUNTERS, 0)
    for node in nodes:
        for key, value in counters(node).items():
            totals[key] += value
    return {"count": len(nodes), **totals}


def register(router: Router) -> None:
    @router.route("GET", "/v2.1/os-hypervisors")
    def index(req: Req) -> dict:
        req.authorize("os_compute_api:os-hypervisors:list")
        return _listing(req, detail=False)

    @router.route("GET", "/v2.1/os-hypervisors/detail", blocking=True)
    def detail(req: Req) -> dict:
        req.authorize("os_compute_api:os-hypervisors:list-detail")
        return _listing(req, detail=True)

    @router.route("GET", "/v2.1/os-hypervisors/statistics")
    def stats(req: Req) -> dict:
        if version(req) >= (2, 88):
            raise errors.NotFound("The resource could not be found.")
        req.authorize("os_compute_api:os-hypervisors:statistics")
        return {"hypervisor_statistics": statistics(req)}

    @router.route("GET", "/v2.1/os-hypervisors/{ident}", blocking=True)
    def show(req: Req) -> dict:
        req.authorize("os_compute_api:os-hypervisors:show")
        v = version(req)
        with_servers = False
        if v >= (2, 53):
            common.reject_unknown_query(req, {"with_servers"})
            with_servers = bool(req.query_bool("with_servers"))
        node = _find(req, req.params["ident"])
        return {"hypervisor": view(req, node, detail=True, servers=with_servers)}

    @router.route("GET", "/v2.1/os-hypervisors/{ident}/uptime", blocking=True)
    def uptime(req: Req) -> dict:
        if version(req) >= (2, 88):
            raise errors.NotFound("The resource could not be found.")
        req.authorize("os_compute_api:os-hypervisors:uptime")
        node = _find(req, req.params["ident"])
        return {"hypervisor": view(req, node, detail=False, uptime=True)}

    @router.route("GET", "/v2.1/os-hypervisors/{pattern}/search")
    def search(req: Req) -> dict:
        if version(req) >= (2, 53):
            raise errors.NotFound("The resource could not be found.")
        req.authorize("os_compute_api:os-hypervisors:search")
        nodes = _pattern(req, req.params["pattern"])
        return {"hypervisors": [view(req, n, detail=False) for n in nodes]}

    @router.route("GET", "/v2.1/os-hypervisors/{pattern}/servers")
    def servers(req: Req) -> dict:
        if version(req) >= (2, 53):
            raise errors.NotFound("The resource could not be found.")
        req.authorize("os_compute_api:os-hypervisors:servers")
        nodes = _pattern(req, req.params["pattern"])
        return {"hypervisors": [view(req, n, detail=False, servers=True) for n in nodes]}
