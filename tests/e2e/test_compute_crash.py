"""Crash safety: `kill -9` the all-in-one process while 5 servers are being built, start
it again on the same state dir, and check that every server ends ACTIVE (or SHUTOFF) or
ERROR with a fault saying why -- none stuck in BUILD or in a task -- with no orphan
instance dir, libvirt domain or resource claim; then delete them all and check nothing
is left.

Two hypervisors:
* libvirt's test driver (`test:///default`, every CI run): its guests live in the
  stackbox process and die with it, like a host reboot. Servers that were ACTIVE at the
  kill come back SHUTOFF (as Nova leaves them after a host reboot with
  resume_guests_state_on_host_boot off), and `start` re-creates their guest.
* real QEMU (`qemu:///system`, the test guest): libvirtd owns the guests, so they survive
  the kill. Servers whose build had finished stay ACTIVE; half-built ones go ERROR with
  their domain and files removed. Skips, saying why, where QEMU cannot run.

The kill lands right after the create POSTs return. Which states it caught (from the
database, read-only, after the kill) is printed: the test asserts the invariants for
whatever it caught and reports the coverage, it does not depend on timing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
import uuid as uuidlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import Running, remove_domains_of, start

N = 5
SETTLE = 60  # seconds for the restarted cloud to settle every server
QEMU_ENV = {
    "STACKBOX_UP__TEST_GUEST": "true",
    "STACKBOX_COMPUTE__VIRT_URI": "auto",
    "STACKBOX_COMPUTE__VIRT_TYPE": "qemu",
    "STACKBOX_COMPUTE__SHUTDOWN_TIMEOUT": "5",
}


# -- talking to the cloud ---------------------------------------------------------------
class Api:
    """Raw HTTP with an admin token: thread-safe and as quick as a client can be, so the
    kill follows the POSTs closely."""

    def __init__(self, running: Running) -> None:
        self.base = running.url
        body: dict[str, Any] = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "admin",
                            "domain": {"name": "Default"},
                            "password": running.password("admin"),
                        }
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
            }
        }
        r = requests.post(f"{self.base}/identity/v3/auth/tokens", json=body, timeout=30)
        r.raise_for_status()
        self.headers = {
            "X-Auth-Token": r.headers["X-Subject-Token"],
            "OpenStack-API-Version": "compute 2.79",
        }

    def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = ()) -> Any:
        r = requests.request(
            method, f"{self.base}{path}", json=body, headers=self.headers, timeout=60
        )
        if r.status_code >= 400 and r.status_code not in ok:
            raise AssertionError(f"{method} {path}: {r.status_code} {r.text}")
        return r.json() if r.content else None

    def server(self, sid: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/compute/v2.1/servers/{sid}")["server"])

    def flavor_id(self, name: str) -> str:
        flavors = self.call("GET", "/compute/v2.1/flavors")["flavors"]
        return str(next(f["id"] for f in flavors if f["name"] == name))

    def image_id(self, name: str) -> str:
        images = self.call("GET", f"/image/v2/images?name={name}")["images"]
        assert images, f"no image {name}"
        return str(images[0]["id"])

    def create(self, name: str, image: str, flavor: str, count: int = 1) -> None:
        server: dict[str, Any] = {
            "name": name,
            "imageRef": image,
            "flavorRef": flavor,
            "networks": "none",
        }
        if count > 1:
            server.update(min_count=count, max_count=count)
        self.call("POST", "/compute/v2.1/servers", {"server": server})


def _upload_image(api: Api, tmp: Path) -> str:
    """A fresh image (so the first boot fetches it into the cache while `spawning`)."""
    raw = tmp / "crash.raw"
    with raw.open("wb") as fh:
        fh.write(os.urandom(48 * 1024 * 1024))
    path = tmp / "crash.qcow2"
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(path)], check=True)
    raw.unlink()
    img = api.call(
        "POST",
        "/image/v2/images",
        {
            "name": f"crash-{uuidlib.uuid4().hex[:6]}",
            "disk_format": "qcow2",
            "container_format": "bare",
            "visibility": "public",
        },
    )
    with path.open("rb") as fh:
        r = requests.put(
            f"{api.base}/image/v2/images/{img['id']}/file",
            data=fh,
            headers={**api.headers, "Content-Type": "application/octet-stream"},
            timeout=120,
        )
    assert r.status_code == 204, r.text
    return str(img["id"])


# -- looking at the state dir -----------------------------------------------------------
def _db(state_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{state_dir / 'stackbox.db'}?mode=ro", uri=True)


def _rows(state_dir: Path) -> dict[str, dict[str, Any]]:
    with _db(state_dir) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT uuid, display_name, vm_state, task_state, host, deleted FROM instances"
        ).fetchall()
    return {r["uuid"]: dict(r) for r in rows}


def _allocations(state_dir: Path) -> list[str]:
    with _db(state_dir) as db:
        return [r[0] for r in db.execute("SELECT consumer_id FROM allocations")]


def _instance_dirs(state_dir: Path) -> set[str]:
    root = state_dir / "instances"
    if not root.is_dir():
        return set()
    out = set()
    for p in root.iterdir():
        try:
            out.add(str(uuidlib.UUID(p.name)))
        except ValueError:
            continue  # _base (the image cache) and the like
    return out


def _libvirt() -> Any:
    """The libvirt module, without its default handler printing every miss to stderr
    (lookups of domains that are gone are expected here)."""
    import libvirt

    libvirt.registerErrorHandler(lambda *_: None, None)
    return libvirt


def _partial_downloads(state_dir: Path) -> list[str]:
    """Temp files of image downloads into the cache (instances/_base)."""
    base = state_dir / "instances" / "_base"
    return sorted(p.name for p in base.glob("*.part-*")) if base.is_dir() else []


def _our_domains(state_dir: Path) -> dict[str, bool]:
    """uuid -> active, for the qemu:///system domains whose files are in `state_dir`."""
    libvirt = _libvirt()
    conn = libvirt.open("qemu:///system")
    out = {}
    try:
        for dom in conn.listAllDomains():
            try:  # other clouds on this libvirtd come and go meanwhile
                if str(state_dir) in dom.XMLDesc(0):
                    out[dom.UUIDString()] = bool(dom.isActive())
            except libvirt.libvirtError:
                continue
        return out
    finally:
        conn.close()


def _wait_db(state_dir: Path, done: Any, limit: float) -> None:
    """Poll the database (read-only) until `done(rows)`, for at most `limit` seconds
    (then go on: the kill lands wherever the builds are)."""
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            if done(list(_rows(state_dir).values())):
                return
        except sqlite3.OperationalError:  # a writer holds the lock for a moment
            pass
        time.sleep(0.002)


def _half_built(state_dir: Path, rows: list[dict[str, Any]], qemu: bool) -> list[str]:
    """Servers still building that have files (the test driver) or a libvirt domain
    (QEMU) already."""
    spawning = [r["uuid"] for r in rows if r["task_state"] == "spawning"]
    if not qemu:
        return [u for u in spawning if (state_dir / "instances" / u).exists()]
    libvirt = _libvirt()
    conn = libvirt.open("qemu:///system")
    try:
        found = []
        for u in spawning:
            try:
                conn.lookupByUUIDString(u)
            except libvirt.libvirtError:
                continue
            found.append(u)
        return found
    finally:
        conn.close()


# -- the scenario -----------------------------------------------------------------------
def _settled(api: Api, uuids: list[str]) -> dict[str, dict[str, Any]]:
    deadline = time.time() + SETTLE
    while True:
        now = {u: api.server(u) for u in uuids}
        if all(
            s["status"] in ("ACTIVE", "SHUTOFF", "ERROR") and s["OS-EXT-STS:task_state"] is None
            for s in now.values()
        ):
            return now
        if time.time() > deadline:
            shown = {u: (s["status"], s["OS-EXT-STS:task_state"]) for u, s in now.items()}
            raise AssertionError(f"not settled {SETTLE}s after the restart: {shown}")
        time.sleep(0.5)


def crash_during_boots(
    base: Path, mode: str, qemu: bool, env: dict[str, str] | None = None
) -> None:
    state, home = base / "state", base / "home"
    first = start(state, home, extra_env=env, timeout=300)
    try:
        if qemu:
            _skip_unless_qemu(first)
        api = Api(first)
        image = api.image_id("stackbox-tiny") if qemu else _upload_image(api, base)
        flavor = api.flavor_id("m1.tiny")
        t0 = time.time()
        if mode == "multi":
            # One request for all 5 with an image not yet in the cache: the kill lands
            # when the first leaves `scheduling` (it is fetching the image, `spawning`).
            api.create("crash", image, flavor, count=N)
        else:
            # 2 servers first, until they are built (their guests exist at the kill); then
            # 3 concurrent POSTs and the kill as soon as one of those is spawning.
            with ThreadPoolExecutor(N) as pool:
                list(pool.map(lambda i: api.create(f"crash-{i}", image, flavor), range(2)))
                _wait_db(state, lambda rows: all(r["vm_state"] != "building" for r in rows), 120)
                list(pool.map(lambda i: api.create(f"crash-{i}", image, flavor), range(2, N)))
                # ... once it has files (QEMU: a domain), if the poll sees that in time.
                _wait_db(state, lambda rows: bool(_half_built(state, rows, qemu)), 5)
        _wait_db(state, lambda rows: any(r["task_state"] == "spawning" for r in rows), 5)
        took = time.time() - t0
        first.proc.kill()  # SIGKILL: no clean-up of any kind
        first.proc.wait(timeout=30)
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
    at_kill = _rows(state)
    uuids = sorted(at_kill)
    assert len(uuids) == N, at_kill
    caught = Counter(f"{r['vm_state']}/{r['task_state']}" for r in at_kill.values())
    where = "qemu" if qemu else "test driver"
    print(f"\n[{mode}, {where}] killed {took:.3f}s after the first POST; states: {dict(caught)}")
    building = [r for r in at_kill.values() if r["vm_state"] == "building"]
    print(
        f"  at the kill: {len(_instance_dirs(state))} instance dirs; building with files: "
        f"{sum((state / 'instances' / r['uuid']).exists() for r in building)}; "
        f"partial image downloads: {len(_partial_downloads(state))}; claims of building "
        f"servers: {len({r['uuid'] for r in building} & set(_allocations(state)))}",
        end="",
    )
    if qemu:
        print(
            f"; our domains: {len(_our_domains(state))}, of building servers: "
            f"{len(_half_built(state, building, True))}",
            end="",
        )
    print()
    with _db(state) as db:
        for u, msg in db.execute(
            "SELECT instance_uuid, message FROM instance_faults ORDER BY id"
        ).fetchall():
            # e.g. a domain name taken by another cloud on the same libvirtd
            print(f"  failed on its own before the kill: {u}: {msg}")

    second = start(state, home, extra_env=env, timeout=300)
    try:
        api = Api(second)
        after = _settled(api, uuids)
        for u in uuids:
            was, now = at_kill[u], after[u]
            fault = (now.get("fault") or {}).get("message", "")
            if was["vm_state"] == "active":
                # Built before the kill: QEMU kept the guest; the test driver lost it.
                assert now["status"] == ("ACTIVE" if qemu else "SHUTOFF"), (was, now["status"])
            elif was["vm_state"] == "error":  # failed on its own before the kill
                assert now["status"] == "ERROR" and fault, now
            else:  # interrupted: ERROR, and the fault says why
                assert now["status"] == "ERROR", (was, now["status"])
                assert "restart" in fault, now
        print("  after the restart: " + json.dumps(Counter(s["status"] for s in after.values())))

        live = {u for u in uuids if after[u]["status"] != "ERROR"}
        # No orphan: instance dirs only for servers that have a guest (or, SHUTOFF, its
        # disks); ERROR ones (interrupted builds) were cleaned up.
        assert _instance_dirs(state) == live
        assert _partial_downloads(state) == []
        # Claims only for servers that hold resources.
        assert sorted(_allocations(state)) == sorted(live)
        if qemu:
            domains = _our_domains(state)
            assert set(domains) == live, (domains, live)
            assert all(domains.values()), domains

        if not qemu and live:  # a SHUTOFF server starts again: its guest is re-created
            one = sorted(live)[0]
            api.call("POST", f"/compute/v2.1/servers/{one}/action", {"os-start": None})
            deadline = time.time() + SETTLE
            while api.server(one)["status"] != "ACTIVE":
                assert time.time() < deadline, api.server(one)
                time.sleep(0.2)

        for u in uuids:
            api.call("DELETE", f"/compute/v2.1/servers/{u}")
        deadline = time.time() + SETTLE
        while any(not r["deleted"] for r in _rows(state).values()):
            assert time.time() < deadline, _rows(state)
            time.sleep(0.2)
        assert _instance_dirs(state) == set()
        assert _allocations(state) == []
        if qemu:
            assert _our_domains(state) == {}
    finally:
        second.stop()
        if qemu:
            remove_domains_of(state)


def _skip_unless_qemu(running: Running) -> None:
    log = "".join(running.output)
    reason = ""
    if "test guest not available" in log:
        reason = "this host cannot build the test guest: see stackbox up's log"
    elif "compute uses libvirt test driver" in log or "qemu:///system" not in log:
        line = next((x for x in running.output if "compute uses" in x), "no line")
        reason = f"QEMU cannot run here: {line.strip()}"
    if reason:
        running.stop()
        pytest.skip(reason)


@pytest.mark.parametrize("mode", ["separate", "multi"])
def test_kill_during_boots_test_driver(tmp_path: Path, mode: str) -> None:
    crash_during_boots(tmp_path, mode, qemu=False)


@pytest.mark.parametrize("mode", ["separate", "multi"])
def test_kill_during_boots_qemu(tmp_path: Path, mode: str) -> None:
    try:
        crash_during_boots(tmp_path, mode, qemu=True, env=QEMU_ENV)
    finally:
        remove_domains_of(tmp_path / "state")
