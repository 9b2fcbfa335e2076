"""Boot-to-ready of the `stackbox-tiny` test guest on real QEMU: through the compute API
against raw `virsh create` of the same domain XML (bench/boot.py part (a)).

`run_qemu(n)` starts a real `stackbox up` (temp state dir and HOME, random loopback port,
`STACKBOX_UP__TEST_GUEST=true`, `STACKBOX_COMPUTE__VIRT_URI=auto`); when its banner
does not say "compute uses QEMU" (via qemu:///system) it returns `{"skipped": reason}`. Then:

- warm-up: one server through the API. Its image is not in the host's `_base` cache yet,
  so this boot includes the image copy (reported as the cache effect). Its `libvirt.xml`,
  its config drive and its root overlay's backing file are kept as the raw path's template;
  then it is deleted.
- n rounds, alternating so both paths share the machine's noise:
  * API: POST /compute/v2.1/servers {stackbox-tiny, m1.tiny, networks none}; t0 before the
    POST; `os-getConsoleOutput` (length 50) every 0.2 s until
    `stackbox-guest: ready instance=<id>`; then DELETE and wait for 404.
  * raw: fresh disks the plain way (`qemu-img create -f qcow2 -b <same base> -F qcow2`,
    copy of `disk.config`), the XML re-written through `stackbox.virt.config` (name, uuid,
    SMBIOS uuid, every path), t0, `virsh -c qemu:///system create FILE`, poll console.log
    every 0.2 s for the `stackbox-guest: ready` prefix (the copied config drive names the
    warm-up instance); `virsh destroy`.
  A sample that another user of the shared libvirtd spoiled (our guest stopped before it
  was ready -- libvirt's log says "shutting down" -- or its domain name `instance-N` taken
  by another cloud's guest) is run again (up to 5 attempts) and listed in retried_rounds.
  Each sample is split at the moment libvirt started QEMU (the "starting up" line of
  /var/log/libvirt/qemu/<name>.log): request->QEMU started, and QEMU started->ready.

Returns (and prints, when run as a script) api_median_s, raw_median_s, ratio (target
<= 1.15), every sample and the cache effect. Every domain created is destroyed and
undefined and the cloud is stopped, also on errors; the temp dirs are removed.

Run: `.venv/bin/python bench/boot_qemu.py [-n 5]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

from stackbox.guest.build import build_test_guest, default_cache_dir
from stackbox.virt.config import Domain

BIN = Path(sys.executable).parent
URI = "qemu:///system"
READY = "stackbox-guest: ready"
POLL = 0.2
BOOT_WAIT = 240.0
MICROVERSION = "compute 2.37"  # networks: "none"
MAX_ATTEMPTS = 5  # per sample, when another user of the shared libvirtd spoils it
QEMU_LOG_DIR = Path("/var/log/libvirt/qemu")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Api:
    """A tiny JSON client for one cloud (one connection per request: loopback is cheap)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.token = ""

    def call(self, method: str, path: str, body: object = None) -> tuple[int, dict[str, str], Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Content-Type": "application/json", "OpenStack-API-Version": MICROVERSION}
        if self.token:
            headers["X-Auth-Token"] = self.token
        try:
            conn.request(method, path, json.dumps(body) if body is not None else None, headers)
            r = conn.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            conn.close()
        return r.status, hdrs, json.loads(data) if data.strip() else None

    def login(self, password: str) -> None:
        user = {"name": "admin", "domain": {"name": "Default"}, "password": password}
        body = {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": user}},
                "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
            }
        }
        status, hdrs, _ = self.call("POST", "/identity/v3/auth/tokens", body)
        if status != 201:
            raise RuntimeError(f"token request failed: {status}")
        self.token = hdrs["x-subject-token"]


class Cloud:
    """`stackbox up` in a subprocess; its output lines are kept with their arrival time."""

    def __init__(self, work: Path) -> None:
        self.state = work / "state"
        self.home = work / "home"
        self.home.mkdir(parents=True)
        self.port = free_port()
        self.lines: list[tuple[float, str]] = []
        env = {
            **os.environ,
            "HOME": str(self.home),
            "PYTHONUNBUFFERED": "1",
            "STACKBOX_IDENTITY__PASSWORD_HASH_MEMORY_KIB": "8192",
            "STACKBOX_UP__TEST_GUEST": "true",
            # "auto" picks qemu:///system when QEMU can run, and says so in the banner
            "STACKBOX_COMPUTE__VIRT_URI": "auto",
            "STACKBOX_COMPUTE__VIRT_TYPE": "qemu",
            "STACKBOX_COMPUTE__SHUTDOWN_TIMEOUT": "10",
        }
        for key in ("OS_CLOUD", "STACKBOX_CONFIG"):
            env.pop(key, None)
        argv = ["up", "--state-dir", str(self.state), "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [str(BIN / "stackbox"), *argv, "--bind", "127.0.0.1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_ready(self, timeout: float) -> None:
        assert self.proc.stdout is not None
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("stackbox up exited:\n" + self.output()[-3000:])
            self.lines.append((time.time(), line))
            if line.startswith("stackbox: ready at"):
                threading.Thread(target=self._drain, daemon=True).start()
                return
        raise RuntimeError("stackbox up did not get ready:\n" + self.output()[-3000:])

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.time(), line))

    def output(self) -> str:
        return "".join(line for _t, line in self.lines)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def qemu_started_at(domain_name: str, after: float) -> float | None:
    """When libvirt last started QEMU for `domain_name` (its log's "starting up" line),
    if that was after `after` (epoch seconds)."""
    try:
        text = (QEMU_LOG_DIR / f"{domain_name}.log").read_text(errors="replace")
    except OSError:
        return None
    for line in reversed(text.splitlines()):
        if ": starting up " in line:
            stamp = line.split(": starting up ", 1)[0]
            try:
                when = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f%z").timestamp()
            except ValueError:
                return None
            return when if when >= after - 0.05 else None  # older lines: an earlier guest
    return None


class Interference(RuntimeError):
    """Another user of the shared libvirtd spoiled this sample: our guest was stopped
    before it got ready, or its domain name was taken by another cloud's guest."""


def qemu_stopped(domain_name: str) -> bool:
    """Whether libvirt's log says QEMU of `domain_name` shut down after it last started."""
    try:
        text = (QEMU_LOG_DIR / f"{domain_name}.log").read_text(errors="replace")
    except OSError:
        return False
    return text.rfind(": shutting down") > text.rfind(": starting up ")


def split(t0: float, started: float | None, ready: float) -> dict[str, float | None]:
    return {
        "total_s": round(ready - t0, 3),
        "to_qemu_start_s": round(started - t0, 3) if started else None,
        "qemu_start_to_ready_s": round(ready - started, 3) if started else None,
    }


# -- API path ------------------------------------------------------------------------


def api_boot(
    api: Api, state: Path, image_id: str, flavor_id: str, name: str, servers: list[str]
) -> dict[str, Any]:
    """One server through the API, from POST to its ready line; leaves it running (its id
    is appended to `servers` as soon as it exists)."""
    body = {"server": {"name": name, "imageRef": image_id, "flavorRef": flavor_id}}
    body["server"]["networks"] = "none"
    t0 = time.time()
    status, _, created = api.call("POST", "/compute/v2.1/servers", body)
    if status != 202:
        raise RuntimeError(f"server create failed: {status} {created}")
    sid = created["server"]["id"]
    servers.append(sid)
    xml_file = state / "instances" / sid / "libvirt.xml"
    domain_name = ""
    polls = 0
    want = f"{READY} instance={sid}"
    action = {"os-getConsoleOutput": {"length": 50}}
    deadline = t0 + BOOT_WAIT
    while time.time() < deadline:
        status, _, out = api.call("POST", f"/compute/v2.1/servers/{sid}/action", action)
        if status == 200 and want in out["output"]:
            ready = time.time()
            break
        if status not in (200, 409):
            raise RuntimeError(f"console output of {sid}: {status} {out}")
        polls += 1
        if status == 409 or polls % 5 == 0:  # a failed build never gets ready: look (1/s)
            _, _, shown = api.call("GET", f"/compute/v2.1/servers/{sid}")
            if shown["server"]["status"] == "ERROR":
                fault = shown["server"].get("fault") or {}
                kind = Interference if "already exists" in str(fault) else RuntimeError
                raise kind(f"server {sid} went ERROR: {fault.get('message')}")
        if not domain_name and xml_file.exists():
            domain_name = Domain.from_xml_string(xml_file.read_text()).name
        if domain_name and qemu_started_at(domain_name, t0) and qemu_stopped(domain_name):
            raise Interference(f"the guest of server {sid} ({domain_name}) stopped before ready")
        time.sleep(POLL)
    else:
        raise RuntimeError(f"no ready line from server {sid} after {BOOT_WAIT}s")
    domain_name = domain_name or Domain.from_xml_string(xml_file.read_text()).name
    started = qemu_started_at(domain_name, t0)
    return {"id": sid, "domain": domain_name, **split(t0, started, ready)}


def api_delete(api: Api, sid: str, wait: float = 120) -> None:
    api.call("DELETE", f"/compute/v2.1/servers/{sid}")
    deadline = time.time() + wait
    while time.time() < deadline:
        status, _, _ = api.call("GET", f"/compute/v2.1/servers/{sid}")
        if status == 404:
            return
        time.sleep(0.2)
    raise RuntimeError(f"server {sid} still there {wait}s after DELETE")


# -- raw path ------------------------------------------------------------------------


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


class RawTemplate:
    """What the raw path needs from the warm-up server: its XML, and for each disk file in
    its instance dir either (backing file, virtual size) or a saved copy."""

    def __init__(self, instance_dir: Path, keep: Path) -> None:
        self.instance_dir = instance_dir
        self.xml = (instance_dir / "libvirt.xml").read_text()
        self.overlays: dict[str, tuple[str, str, int]] = {}  # name -> backing, format, size
        self.copies: dict[str, Path] = {}
        keep.mkdir(parents=True)
        for disk in Domain.from_xml_string(self.xml).devices.disks:
            src = Path(disk.source_file or "")
            if src.parent != instance_dir:
                continue
            info = json.loads(run("qemu-img", "info", "-U", "--output=json", str(src)))
            backing = info.get("full-backing-filename") or info.get("backing-filename")
            if backing:
                fmt = info.get("backing-filename-format", "qcow2")
                self.overlays[src.name] = (backing, fmt, int(info["virtual-size"]))
            else:
                shutil.copyfile(src, keep / src.name)
                self.copies[src.name] = keep / src.name

    def instantiate(self, dest: Path, name: str) -> Path:
        """Fresh disks in `dest` and the domain XML file for them; returns the XML path."""
        dest.mkdir(parents=True)
        for fname, (backing, fmt, size) in self.overlays.items():
            run(
                "qemu-img", "create", "-q", "-f", "qcow2", "-b", backing, "-F", fmt,
                str(dest / fname), str(size),
            )  # fmt: skip
        for fname, saved in self.copies.items():
            shutil.copyfile(saved, dest / fname)
        dom = Domain.from_xml_string(self.xml)
        new_uuid = str(uuidlib.uuid4())
        dom.name, dom.uuid, dom.id = name, new_uuid, None
        if dom.sysinfo is not None and "uuid" in dom.sysinfo.system:
            dom.sysinfo.system["uuid"] = new_uuid
        old = str(self.instance_dir)

        def moved(path: str | None) -> str | None:
            if path is None or not path.startswith(old + "/"):
                return path
            return str(dest / path[len(old) + 1 :])

        for disk in dom.devices.disks:
            disk.source_file = moved(disk.source_file)
        for chardev in (*dom.devices.serials, *dom.devices.consoles):
            chardev.source_path = moved(chardev.source_path)
        dom.os.kernel, dom.os.initrd = moved(dom.os.kernel), moved(dom.os.initrd)
        xml_file = dest / "domain.xml"
        xml_file.write_text(dom.to_xml_string())
        return xml_file


def console_file(xml_file: Path) -> Path:
    dom = Domain.from_xml_string(xml_file.read_text())
    for serial in dom.devices.serials:
        if serial.type == "file" and serial.source_path:
            return Path(serial.source_path)
    raise RuntimeError("the domain XML has no file serial console")


def raw_boot(template: RawTemplate, dest: Path, name: str, created: list[str]) -> dict[str, Any]:
    xml_file = template.instantiate(dest, name)
    log = console_file(xml_file)
    t0 = time.time()
    created.append(name)
    subprocess.run(["virsh", "-c", URI, "create", str(xml_file)], check=True, capture_output=True)
    deadline = t0 + BOOT_WAIT
    while time.time() < deadline:
        try:
            if READY in log.read_text(errors="replace"):
                ready = time.time()
                break
        except FileNotFoundError:
            pass
        if qemu_stopped(name):
            raise Interference(f"raw domain {name} stopped before ready")
        time.sleep(POLL)
    else:
        raise RuntimeError(f"no ready line from raw domain {name} after {BOOT_WAIT}s")
    return {"domain": name, **split(t0, qemu_started_at(name, t0), ready)}


def remove_domains(names: list[str], under: Path) -> list[str]:
    """Destroy and undefine our domains: the raw ones by name, and any whose XML points
    into `under` (servers a failed run left behind). Returns the names removed."""
    import libvirt

    removed: list[str] = []
    try:
        conn = libvirt.open(URI)
    except libvirt.libvirtError:
        return removed
    try:
        for dom in conn.listAllDomains():
            try:
                if dom.name() not in names and str(under) not in dom.XMLDesc(0):
                    continue
                if dom.isActive():
                    dom.destroy()
                if dom.isPersistent():
                    dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
                removed.append(dom.name())
            except libvirt.libvirtError:
                continue
    finally:
        conn.close()
    return removed


# -- the benchmark -------------------------------------------------------------------


def _prepare_guest(state: Path) -> None:
    """Give the cloud an up-to-date test guest build (the shared one, built if needed) so
    that `stackbox up` only verifies it."""
    shared = default_cache_dir() / "artifacts"
    build_test_guest(shared)
    shutil.copytree(shared, state / "guest")


def _lookup(api: Api) -> tuple[str, str]:
    _, _, images = api.call("GET", "/image/v2/images?name=stackbox-tiny")
    _, _, flavors = api.call("GET", "/compute/v2.1/flavors")
    image = next(i["id"] for i in images["images"] if i["name"] == "stackbox-tiny")
    flavor = next(f["id"] for f in flavors["flavors"] if f["name"] == "m1.tiny")
    return image, flavor


def run_qemu(n: int = 5) -> dict[str, Any]:
    """Boot-to-ready medians of n API boots and n raw `virsh create` boots (see module)."""
    work = Path(tempfile.mkdtemp(prefix="stackbox-bench-qemu-"))
    state = work / "state"
    state.mkdir()
    raw_names: list[str] = []
    servers: list[str] = []
    cloud: Cloud | None = None
    api: Api | None = None
    try:
        try:
            _prepare_guest(state)
        except Exception as exc:  # stackbox up builds it itself (or says why it cannot)
            print(f"shared test guest build not usable ({exc}); stackbox up builds it")
        cloud = Cloud(work)
        t_up = time.time()
        cloud.wait_ready(timeout=900)
        up_s = time.time() - t_up
        log = cloud.output()
        if "test guest not available" in log:
            return {"skipped": "the test guest cannot be built here (see stackbox up's log)"}
        banner = next((x for x in log.splitlines() if "compute uses" in x), "no 'compute uses'")
        if "compute uses QEMU" not in banner:
            return {"skipped": f"QEMU cannot run here: {banner.strip()}"}
        api = Api(cloud.port)
        api.login((state / "admin-password").read_text().strip())
        image_id, flavor_id = _lookup(api)

        base_dir = state / "instances" / "_base"
        cached_before = base_dir.is_dir() and any(base_dir.iterdir())
        warm = api_boot(api, state, image_id, flavor_id, "bench-warmup", servers)
        template = RawTemplate(state / "instances" / warm["id"], work / "template")
        api_delete(api, warm["id"])
        servers.remove(warm["id"])

        api_samples: list[dict[str, Any]] = []
        raw_samples: list[dict[str, Any]] = []
        tag = uuidlib.uuid4().hex[:6]
        retried: list[str] = []
        for i in range(n):
            for attempt in range(MAX_ATTEMPTS):
                try:
                    sample = api_boot(api, state, image_id, flavor_id, f"bench-{i}", servers)
                    break
                except Interference as exc:
                    retried.append(f"api round {i + 1}: {exc}")
                    if attempt == MAX_ATTEMPTS - 1:
                        raise
                finally:
                    for sid in list(servers):
                        api_delete(api, sid)
                        servers.remove(sid)
            api_samples.append(sample)

            for attempt in range(MAX_ATTEMPTS):
                name = f"bench-raw-{tag}-{i}-{attempt}"
                dest = work / "raw" / name
                try:
                    raw_samples.append(raw_boot(template, dest, name, raw_names))
                    break
                except Interference as exc:
                    retried.append(f"raw round {i + 1}: {exc}")
                    if attempt == MAX_ATTEMPTS - 1:
                        raise
                finally:
                    subprocess.run(["virsh", "-c", URI, "destroy", name], capture_output=True)
                    shutil.rmtree(dest, ignore_errors=True)
            print(
                f"  round {i + 1}/{n}: api {api_samples[-1]['total_s']:.2f} s, "
                f"raw {raw_samples[-1]['total_s']:.2f} s",
                flush=True,
            )

        api_med = statistics.median(s["total_s"] for s in api_samples)
        raw_med = statistics.median(s["total_s"] for s in raw_samples)

        def med(samples: list[dict[str, Any]], key: str) -> float | None:
            values = [s[key] for s in samples if s[key] is not None]
            return round(statistics.median(values), 3) if values else None

        return {
            "n": n,
            "api_median_s": round(api_med, 3),
            "raw_median_s": round(raw_med, 3),
            "ratio": round(api_med / raw_med, 3),
            "target_ratio": 1.15,
            "api_to_qemu_start_median_s": med(api_samples, "to_qemu_start_s"),
            "raw_to_qemu_start_median_s": med(raw_samples, "to_qemu_start_s"),
            "api_qemu_start_to_ready_median_s": med(api_samples, "qemu_start_to_ready_s"),
            "raw_qemu_start_to_ready_median_s": med(raw_samples, "qemu_start_to_ready_s"),
            "api_samples": api_samples,
            "raw_samples": raw_samples,
            "image_cache": {
                "base_cached_before_warmup": cached_before,
                "warmup_boot_s": warm["total_s"],
                "warmup_to_qemu_start_s": warm["to_qemu_start_s"],
                "base_cached_for_samples": True,
            },
            "retried_rounds": retried,
            "stackbox_up_s": round(up_s, 1),
            "banner": banner.strip(),
        }
    finally:
        if api is not None:
            for sid in list(servers):
                try:
                    api_delete(api, sid, wait=60)
                except Exception as exc:  # the domain sweep below still removes it
                    print(f"cleanup: server {sid}: {exc}", file=sys.stderr)
        if cloud is not None:
            cloud.stop()
            (work / "stackbox-up.log").write_text(
                "".join(f"{t:.3f} {line}" for t, line in cloud.lines)
            )
        left = remove_domains(raw_names, work)
        if any(not x.startswith("bench-raw-") for x in left):
            print(f"cleanup: removed leftover domains {left}", file=sys.stderr)
        if os.environ.get("STACKBOX_BENCH_KEEP"):
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def report(result: dict[str, Any]) -> None:
    if "skipped" in result:
        print(f"(a) boot-to-ready on QEMU: skipped: {result['skipped']}")
        return
    print(f"(a) boot-to-ready of stackbox-tiny on QEMU ({result['banner']}), n={result['n']}")
    print(
        f"    API  median {result['api_median_s']:.2f} s  "
        f"(POST->QEMU start {result['api_to_qemu_start_median_s']} s, "
        f"QEMU start->ready {result['api_qemu_start_to_ready_median_s']} s)"
    )
    print(
        f"    raw  median {result['raw_median_s']:.2f} s  "
        f"(virsh create->QEMU start {result['raw_to_qemu_start_median_s']} s, "
        f"QEMU start->ready {result['raw_qemu_start_to_ready_median_s']} s)"
    )
    print(f"    ratio API/raw {result['ratio']:.3f} (target <= {result['target_ratio']})")
    print("    API samples s: " + ", ".join(f"{s['total_s']:.2f}" for s in result["api_samples"]))
    print("    raw samples s: " + ", ".join(f"{s['total_s']:.2f}" for s in result["raw_samples"]))
    cache = result["image_cache"]
    print(
        f"    image cache: base cached before the first boot: "
        f"{cache['base_cached_before_warmup']}; first (warm-up) boot "
        f"{cache['warmup_boot_s']:.2f} s (POST->QEMU start {cache['warmup_to_qemu_start_s']} s); "
        f"samples ran with the base cached"
    )
    for note in result["retried_rounds"]:
        print(f"    retried (shared libvirtd interfered): {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=5, help="boots per path (default 5)")
    parser.add_argument("--json", action="store_true", help="also print the result as JSON")
    args = parser.parse_args()
    result = run_qemu(args.n)
    report(result)
    if args.json:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
