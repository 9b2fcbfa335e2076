#!/usr/bin/env python3
"""Run OpenStack's own API test suite (Tempest) against a fresh `stackbox up`.

    make tempest ARGS='--regex tempest.api.compute.flavors'
    .venv/bin/python scripts/tempest.py [--regex R] [--concurrency N] [--keep]

What it does, in order:
1. installs Tempest (pinned) into its own virtualenv, `.tempest-venv` (once);
2. starts `stackbox up` on a random port with a temporary state dir and HOME, on
   libvirt's test hypervisor (`test:///default`) unless `--virt-uri` says otherwise;
3. writes `tempest.conf` into a Tempest workspace: admin credentials from the state
   dir, dynamic credentials, `image_ref`/`flavor_ref` from stackbox's defaults
   (the `stackbox-tiny` image, flavors m1.tiny/m1.small), the feature flags of
   what stackbox ships, and `http_image`/`http_qcow2_image` (the URLs Tempest's
   web-download and import task tests download from: the default image's bytes,
   served from 127.0.0.1 by this script, since the machine may have no internet);
4. runs `tempest run --regex R` without the tests `etc/tempest/skips.txt` excludes,
   and prints `N passed, N failed, N skipped` with every skip's reason from that file
   (a skip of Tempest's own whose reason the file does not explain fails the run:
   see scripts/tempest_skips.py);
5. removes what it created: the stackbox process, its libvirt domains, the image web
   server and the temporary directory (kept with `--keep`, for reading logs).

Exit status: 0 when nothing failed and every skip is explained, 1 otherwise, 2 when
the cloud did not start.
Only the standard library is used here: it runs before or beside the project's venv.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import tempest_images  # scripts/ is this script's sys.path[0]
import tempest_skips as tempest_skips_file

ROOT = Path(__file__).resolve().parent.parent
TEMPEST_VERSION = "47.0.0"
TEMPEST_VENV = ROOT / ".tempest-venv"
SKIP_FILE = ROOT / "etc" / "tempest" / "skips.txt"
CONF_TEMPLATE = ROOT / "etc" / "tempest" / "tempest.conf.in"
DEFAULT_REGEX = r"^tempest\.api\.(identity|image|compute)\."
SUMMARY = re.compile(r"^ - (Passed|Skipped|Failed|Expected Fail|Unexpected Success): (\d+)")


def ensure_tempest() -> Path:
    """Tempest in its own venv (it pins libraries stackbox's own venv must not get)."""
    tempest = TEMPEST_VENV / "bin" / "tempest"
    stamp = TEMPEST_VENV / f".tempest-{TEMPEST_VERSION}"
    if not stamp.exists():
        print(f"tempest: installing tempest=={TEMPEST_VERSION} into {TEMPEST_VENV}", flush=True)
        if not (TEMPEST_VENV / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(TEMPEST_VENV)], check=True)
        pip = [str(TEMPEST_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
        pip += ["--disable-pip-version-check", f"tempest=={TEMPEST_VERSION}"]
        subprocess.run(pip, check=True)
        stamp.touch()
    return tempest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ImageSite:
    """The default image's bytes over HTTP on 127.0.0.1, for Tempest's `http_image`.

    Started before the cloud (whose import filter must allow its port), filled with
    the image once the cloud is up (`data`), stopped after the run."""

    PATH = "/stackbox-tiny.qcow2"

    def __init__(self) -> None:
        self.data = b""
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(body=True)

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def _answer(self, body: bool) -> None:
                if self.path != site.PATH or not site.data:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(site.data)))
                self.end_headers()
                if body:
                    self.wfile.write(site.data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{self.PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def cloud_env(self) -> dict[str, str]:
        """What stackbox's `[image_import]` needs to download from this site (its
        defaults refuse loopback addresses and ports other than 80 and 443)."""
        return {
            # The site is on loopback, which imports may not reach by default (it is
            # where a cloud's own services listen).
            "STACKBOX_IMAGE_IMPORT__ALLOW_INTERNAL_HOSTS": "true",
            # ...but only this address: the allowed list replaces "any public host",
            # so the relaxed check above opens no other internal address.
            "STACKBOX_IMAGE_IMPORT__ALLOWED_HOSTS": "127.0.0.1",
            # The site's random port, besides the default 80 and 443.
            "STACKBOX_IMAGE_IMPORT__ALLOWED_PORTS": f"80,443,{self.port}",
        }


class Cloud:
    """One `stackbox up` in a subprocess, its output kept in `log`."""

    def __init__(self, work: Path, virt_uri: str) -> None:
        self.work = work
        self.state_dir = work / "state"
        self.home = work / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = work / "stackbox.log"
        tag = hashlib.sha1(str(work).encode()).hexdigest()[:8]
        self.domain_prefix = f"tempest-{tag}-"
        self.env = {
            **os.environ,
            "HOME": str(self.home),
            "PYTHONUNBUFFERED": "1",
            "STACKBOX_COMPUTE__VIRT_URI": virt_uri,
            "STACKBOX_COMPUTE__INSTANCE_NAME_TEMPLATE": self.domain_prefix + "%08x",
            # Tempest boots many small servers at once: the test hypervisor's host
            # has 3 GiB, which real ratios would exhaust long before the API is tested.
            "STACKBOX_COMPUTE__RAM_ALLOCATION_RATIO": "64",
            "STACKBOX_COMPUTE__CPU_ALLOCATION_RATIO": "64",
            "STACKBOX_COMPUTE__DISK_ALLOCATION_RATIO": "64",
            "STACKBOX_COMPUTE__SYNC_POWER_STATE_INTERVAL": "5",
        }
        for var in ("OS_CLOUD", "STACKBOX_CONFIG"):
            self.env.pop(var, None)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 600) -> None:
        binary = Path(sys.executable).parent / "stackbox"
        argv = [str(binary), "up", "--state-dir", str(self.state_dir), "--port", str(self.port)]
        argv += ["--bind", "127.0.0.1", "--no-user-clouds-yaml"]
        out = self.log.open("w")
        self.proc = subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"stackbox up exited ({self.proc.returncode}):\n{self.tail()}")
            text = self.log.read_text(errors="replace")
            if re.search(r"^stackbox: .*ready", text, re.M):
                return
            time.sleep(0.5)
        raise RuntimeError(f"stackbox up did not get ready in {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def password(self, user: str) -> str:
        return (self.state_dir / f"{user}-password").read_text().strip()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.remove_domains()

    def remove_domains(self) -> None:
        """Guests outlive their compute service: remove the ones this run made (on a
        shared libvirtd; the test hypervisor's vanish with the process)."""
        uri = self.env["STACKBOX_COMPUTE__VIRT_URI"]
        if uri.startswith("test:") or not shutil.which("virsh"):
            return
        names = subprocess.run(
            ["virsh", "-c", uri, "list", "--all", "--name"], capture_output=True, text=True
        ).stdout.split()
        for name in names:
            if name.startswith(self.domain_prefix):
                subprocess.run(["virsh", "-c", uri, "destroy", name], capture_output=True)
                flags = ["--nvram", "--managed-save"]
                subprocess.run(["virsh", "-c", uri, "undefine", name, *flags], capture_output=True)


def _api(
    cloud: Cloud,
    path: str,
    body: object = None,
    token: str = "",
    method: str | None = None,
    content_type: str = "application/json",
) -> tuple:
    """One request to the cloud; the response's headers and (JSON or raw) body."""
    data = body if isinstance(body, bytes) else None
    if body is not None and data is None:
        data = json.dumps(body).encode()
    req = urllib.request.Request(cloud.url + path, data=data, method=method)
    req.add_header("Content-Type", content_type)
    if token:
        req.add_header("X-Auth-Token", token)
    with urllib.request.urlopen(req, timeout=60) as resp:
        raw = resp.read()
        if resp.headers.get_content_type() == "application/json" and raw:
            return resp.headers, json.loads(raw)
        return resp.headers, raw


def _admin_token(cloud: Cloud) -> str:
    scope = {"project": {"name": "admin", "domain": {"id": "default"}}}
    user = {"name": "admin", "domain": {"id": "default"}, "password": cloud.password("admin")}
    auth = {"identity": {"methods": ["password"], "password": {"user": user}}, "scope": scope}
    headers, _ = _api(cloud, "/identity/v3/auth/tokens", {"auth": auth})
    return headers["X-Subject-Token"]


def default_images(cloud: Cloud) -> tuple[str, str, bytes]:
    """`image_ref` is stackbox's default image (`stackbox-tiny`); `image_ref_alt` is a
    public copy of it under another name (Tempest's rebuild tests need two distinct
    bootable images, and the kernel image is no bootable disk). Also returns the
    image's data (a qcow2)."""
    token = _admin_token(cloud)
    _, body = _api(cloud, "/image/v2/images?name=stackbox-tiny", token=token)
    if not body["images"]:
        raise RuntimeError("the default image stackbox-tiny is missing (up.test_guest off?)")
    ref = body["images"][0]
    _, data = _api(cloud, f"/image/v2/images/{ref['id']}/file", token=token)
    fields = {"name": "stackbox-tiny-alt", "visibility": "public"}
    fields |= {k: ref[k] for k in ("disk_format", "container_format", "min_disk", "min_ram")}
    _, alt = _api(cloud, "/image/v2/images", fields, token=token)
    octets = "application/octet-stream"
    _api(cloud, f"/image/v2/images/{alt['id']}/file", data, token, "PUT", octets)
    return ref["id"], alt["id"], data


def write_conf(cloud: Cloud, workspace: Path, site: ImageSite) -> Path:
    """tempest.conf from the template, with this cloud's address and credentials, and
    the default image served by `site`."""
    image_ref, image_ref_alt, site.data = default_images(cloud)
    values = {
        "http_image": site.url,
        "http_qcow2_image": site.url,
        "url": cloud.url,
        "image_ref": image_ref,
        "image_ref_alt": image_ref_alt,
        "admin_password": cloud.password("admin"),
        "lock_path": str(workspace / "lock"),
        "log_file": str(workspace / "tempest.log"),
        "images_manifest": str(tempest_images.generate(workspace / "images")),
    }
    text = CONF_TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace("@" + key + "@", value)
    conf = workspace / "etc" / "tempest.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(text)
    return conf


def run_tempest(tempest: Path, workspace: Path, args: argparse.Namespace) -> dict[str, int]:
    """`tempest run` in the workspace; returns the counts of its summary."""
    conf = workspace / "etc" / "tempest.conf"
    argv = [str(tempest), "run", "--config-file", str(conf), "--regex", args.regex]
    excluded = tempest_skips_file.write_exclude_list(args.entries, workspace / "exclude.txt")
    argv += ["--exclude-list", str(excluded), "--concurrency", str(args.concurrency)]
    counts: dict[str, int] = {}
    proc = subprocess.Popen(
        argv, cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    with (workspace / "tempest-run.log").open("w") as log:
        for line in proc.stdout:
            log.write(line)
            if args.verbose or _interesting(line):
                sys.stdout.write(line)
            m = SUMMARY.match(line)
            if m:
                counts[m.group(1)] = int(m.group(2))
    proc.wait()
    counts["rc"] = proc.returncode
    return counts


def _interesting(line: str) -> bool:
    return "... FAILED" in line or line.startswith(("FAIL", "Traceback", "ERROR"))


def tempest_skips(workspace: Path) -> list[tuple[str, str]]:
    """(test id, reason) of every test Tempest skipped itself in the last run."""
    stream = subprocess.run(
        [str(TEMPEST_VENV / "bin" / "stestr"), "last", "--subunit"],
        cwd=workspace,
        capture_output=True,
    ).stdout
    python = str(TEMPEST_VENV / "bin" / "python")
    out = subprocess.run(
        [python, "-c", tempest_skips_file.SUBUNIT_SKIPS], input=stream, capture_output=True
    ).stdout
    return tempest_skips_file.parse_skips(out.decode(errors="replace"))


def report_skips(entries: list, workspace: Path) -> int:
    """Print each skip reason with its count; returns how many skips no entry explains."""
    counts, unexplained = tempest_skips_file.explain(entries, tempest_skips(workspace))
    for reason, count in counts.most_common():
        print(f"  skipped {count:4d}: {reason}")
    for test_id, text in unexplained:
        print(f"  UNEXPLAINED skip: {test_id}: {text}")
    return len(unexplained)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--regex", default=DEFAULT_REGEX, help="tests to run (tempest regex)")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--virt-uri", default="test:///default")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, state)")
    parser.add_argument("--verbose", action="store_true", help="print every test line")
    args = parser.parse_args(argv)
    args.entries = tempest_skips_file.load(SKIP_FILE)

    started = time.monotonic()
    tempest = ensure_tempest()
    work = Path(tempfile.mkdtemp(prefix="stackbox-tempest-"))
    cloud = Cloud(work, args.virt_uri)
    counts: dict[str, int] = {"rc": 1}
    unexplained = 0
    site = ImageSite()
    cloud.env.update(site.cloud_env())
    try:
        site.start()
        try:
            cloud.start()
        except RuntimeError as exc:
            print(f"tempest: {exc}", file=sys.stderr)
            return 2
        workspace = work / "workspace"
        init = [str(tempest), "init", "--workspace-path", str(work / "workspaces.yaml")]
        init += ["--name", work.name, str(workspace)]
        subprocess.run(init, check=True, capture_output=True)
        write_conf(cloud, workspace, site)
        print(f"tempest: stackbox at {cloud.url}, work dir {work}", flush=True)
        counts = run_tempest(tempest, workspace, args)
        unexplained = report_skips(args.entries, workspace)
    finally:
        cloud.stop()
        site.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    passed, failed = counts.get("Passed", 0), counts.get("Failed", 0)
    skipped = counts.get("Skipped", 0)
    minutes = (time.monotonic() - started) / 60
    print(f"tempest: {passed} passed, {failed} failed, {skipped} skipped ({minutes:.1f} min)")
    if args.keep:
        print(f"tempest: logs in {work}")
    if unexplained:
        print(f"tempest: {unexplained} skips have no reason in {SKIP_FILE.relative_to(ROOT)}")
    return 0 if failed == 0 and counts["rc"] == 0 and not unexplained else 1


if __name__ == "__main__":
    sys.exit(main())
