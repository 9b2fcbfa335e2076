"""A small whole cloud in one process for the conductor's workflow tests: the API (a
TestClient over a private database), the real conductor and scheduler, and two compute
hosts on libvirt's test:///default with real disks and image cache, all on one private
local bus. cmp1 is far bigger than cmp2, so the weighers prefer cmp1: a server
that lands on cmp2 was sent there by a rule (a group, a disabled host).

Shelving uploads the snapshot through the Image API of the same app (an in-process
transport) and offloads at once (`shelved_offload_time` 0), as Nova does with that
setting."""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update
from starlette.testclient import TestClient

from stackbox import bus as sbbus
from stackbox import config, privileged
from stackbox.compute import cloud as cloud_id
from stackbox.compute.imagecache import FileImageSource, ImageCache
from stackbox.compute.imageupload import ImageUploader
from stackbox.compute.manager import ComputeManager
from stackbox.compute.models import Flavor
from stackbox.compute.rpcapi import ConductorAPI
from stackbox.conductor.manager import ConductorManager
from stackbox.scheduler.manager import SchedulerManager
from stackbox.service.models import ServiceRecord
from stackbox.virt import select
from stackbox.virt.libvirt_driver import LibvirtDriver
from tests.identity.conftest import Cloud, _make_cloud
from tests.scheduler.util import add_node

API = "/compute/v2.1"
URI = "test:///default"
# host -> its node's (memory_mb, vcpus, local_gb): cmp1 wins every weigher by far
HOSTS = {"cmp1": (65536, 64, 1000), "cmp2": (16384, 8, 100)}
FLAVORS = {"small": (64, 1), "medium": (96, 1), "large": (128, 2)}  # memory_mb, root_gb


@dataclass
class Stack:
    client: TestClient
    state: Any
    admin: dict[str, str]
    demo: dict[str, str]
    image: str = ""
    computes: dict[str, ComputeManager] = field(default_factory=dict)

    def api(self, method: str, path: str, who: dict | None = None, **kw: Any) -> Any:
        headers = {**(who or self.demo), "OpenStack-API-Version": "compute 2.64"}
        return self.client.request(method, API + path, headers=headers, **kw)

    def server(self, sid: str) -> dict[str, Any]:
        r = self.api("GET", f"/servers/{sid}", self.admin)
        assert r.status_code == 200, r.text
        return dict(r.json()["server"])

    def host_of(self, sid: str) -> str | None:
        return self.server(sid)["OS-EXT-SRV-ATTR:host"]

    def wait(self, sid: str, status: str, timeout: float = 60.0) -> dict[str, Any]:
        """The server once its status is `status` and it has no task."""
        end = time.monotonic() + timeout
        while True:
            s = self.server(sid)
            if s["status"] == status and s["OS-EXT-STS:task_state"] is None:
                return s
            assert s["status"] != "ERROR" or status == "ERROR", s.get("fault")
            assert time.monotonic() < end, f"{sid} is {s['status']}/{s['OS-EXT-STS:task_state']}"
            time.sleep(0.05)

    def group(self, policy: str) -> str:
        body = {"server_group": {"name": f"g-{policy}", "policy": policy}}
        r = self.api("POST", "/os-server-groups", json=body)
        assert r.status_code == 200, r.text
        return str(r.json()["server_group"]["id"])

    def boot(self, group: str | None = None, flavor: str = "small", **server: Any) -> str:
        """A server ACTIVE on some host (admin's when `server` forces a host)."""
        server.update(name=f"vm-{flavor}", imageRef=self.image, flavorRef=f"rs-{flavor}")
        body: dict[str, Any] = {"server": {**server, "networks": "none"}}
        if group:
            body["os:scheduler_hints"] = {"group": group}
        who = self.admin if "availability_zone" in server else self.demo
        r = self.api("POST", "/servers", who, json=body)
        assert r.status_code == 202, r.text
        sid = str(r.json()["server"]["id"])
        self.wait(sid, "ACTIVE")
        return sid

    def act(self, sid: str, body: dict[str, Any]) -> None:
        r = self.api("POST", f"/servers/{sid}/action", self.admin, json=body)
        assert r.status_code == (204 if "confirmResize" in body else 202), r.text

    def shelve_offload(self, sid: str) -> None:
        self.act(sid, {"shelve": None})
        assert self.wait(sid, "SHELVED_OFFLOADED")["OS-EXT-SRV-ATTR:host"] is None

    def unshelve(self, sid: str) -> None:
        """Unshelve and wait until the conductor is done (ACTIVE, or back to
        SHELVED_OFFLOADED when no host was found)."""
        self.act(sid, {"unshelve": None})
        end = time.monotonic() + 60
        while True:
            s = self.server(sid)
            if s["OS-EXT-STS:task_state"] is None and s["status"] != "SHELVED_OFFLOADED":
                assert s["status"] == "ACTIVE", s
                return
            if s["status"] == "SHELVED_OFFLOADED" and s["OS-EXT-STS:task_state"] is None:
                return
            assert time.monotonic() < end, s
            time.sleep(0.05)

    def set_disabled(self, host: str, disabled: bool) -> None:
        with self.state.db.session() as s:
            s.execute(
                update(ServiceRecord)
                .where(ServiceRecord.host == host, ServiceRecord.binary == "stackbox-compute")
                .values(disabled=disabled)
            )


def _upload_image(stack: Stack, tmp: Path) -> str:
    path = tmp / "boot.qcow2"
    privileged.run(["qemu-img", "create", "-q", "-f", "qcow2", "--", str(path), "16M"])
    body = {
        "name": "cirros-ish",
        "disk_format": "qcow2",
        "container_format": "bare",
        "visibility": "public",
    }
    r = stack.client.post("/image/v2/images", json=body, headers=stack.admin)
    assert r.status_code == 201, r.text
    image_id = str(r.json()["id"])
    r = stack.client.put(
        f"/image/v2/images/{image_id}/file",
        content=path.read_bytes(),
        headers={**stack.admin, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 204, r.text
    return image_id


def _compute(stack: Stack, bus: sbbus.Bus, host: str, tmp: Path) -> ComputeManager:
    cfg = config.load(
        env={},
        overrides={
            ("default", "state_dir"): str(tmp / host),
            ("compute", "virt_uri"): URI,
            ("compute", "shutdown_timeout"): 1.0,
        },
    )
    instances = tmp / host / "instances"
    instances.mkdir(parents=True)
    drv = LibvirtDriver(URI, select.guest_host_config(cfg, URI), instances, 1.0)
    store = Path(stack.state.cfg.state_dir) / "images"  # the Image API's files
    images = ImageCache(instances / "_base", FileImageSource(store))
    conductor = ConductorAPI(bus)
    transport = httpx.ASGITransport(app=stack.client.app)
    uploader = ImageUploader(
        "http://127.0.0.1:18080/image", conductor.service_token, transport=transport
    )
    with stack.state.db.session() as s:
        ref = cloud_id.load_or_create(s)
    return ComputeManager(cfg, bus, drv, host, images, uploader, cloud=ref)


def _seed(stack: Stack, tmp: Path) -> None:
    db = stack.state.db
    with db.session() as s:
        for label, (ram, disk) in FLAVORS.items():
            s.add(
                Flavor(
                    flavorid=f"rs-{label}", name=f"rs.{label}", memory_mb=ram, vcpus=1, root_gb=disk
                )
            )
    for host, (ram, vcpus, disk) in HOSTS.items():
        add_node(db, host, memory_mb=ram, vcpus=vcpus, local_gb=disk)
    stack.image = _upload_image(stack, tmp)
    cfg = stack.state.cfg
    cfg.set("compute", "shelved_offload_time", 0)
    for name in ("instances", "cores", "ram", "server_groups", "server_group_members"):
        cfg.set("quota", name, -1)


def make_stack(url: str | None) -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="sbx-stack-") as raw:
        tmp = Path(raw)
        for cloud in _make_cloud(str(tmp / "cloud"), url):
            yield from _run(cloud, tmp)


def _run(cloud: Cloud, tmp: Path) -> Iterator[Stack]:
    state: Any = cloud.state
    portal = cloud.client.portal
    assert portal is not None
    stack = Stack(
        cloud.client,
        state,
        cloud.headers(cloud.token()),
        cloud.headers(cloud.token("demo", project="demo")),
    )
    _seed(stack, tmp)
    bus = sbbus.connect("local://", default_timeout=30)
    portal.call(bus.start)
    stack.computes = {h: _compute(stack, bus, h, tmp) for h in HOSTS}

    async def serve() -> None:
        sched = SchedulerManager(state.cfg, state.db, rng=random.Random(0))
        cond = ConductorManager(state.db, "cond1", bus=bus, identity=state.identity)
        await bus.serve("scheduler", sched, host="sched1")
        await bus.serve("conductor", cond, host="cond1")
        for host, manager in stack.computes.items():
            await bus.serve("compute", manager, host=host)

    portal.call(serve)
    old, state.bus = state.bus, bus
    try:
        yield stack
    finally:
        state.bus = old
        for manager in stack.computes.values():
            portal.call(manager.stop)
        portal.call(bus.stop)
        for manager in stack.computes.values():
            _destroy_guests(manager, tmp)


def _destroy_guests(manager: ComputeManager, tmp: Path) -> None:
    """Only this stack's guests: others may share test:///default (other tests)."""
    drv = manager.driver
    for g in drv.list_guests():
        try:
            ours = str(tmp) in drv.domain_xml(g.uuid)
        except Exception:  # gone meanwhile
            continue
        if ours:
            drv.destroy(g.uuid)
