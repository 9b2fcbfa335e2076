"""`stackbox up`: the whole cloud in one process on the in-process bus.

Binds the API port, migrates and bootstraps the SQLite database in the state dir,
starts every available service role beside the API, writes clouds.yaml, prints
`ready`, and runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from stackbox import bus as sbbus
from stackbox.api import server
from stackbox.api.app import build_app
from stackbox.compute.bootstrap import ensure_default_flavors
from stackbox.config import Config
from stackbox.identity.bootstrap import Credentials, bootstrap
from stackbox.image.metadef_load import load_metadefs
from stackbox.image.recovery import recover as recover_images

LOG = logging.getLogger("stackbox.up")


def clouds(cfg: Config, creds: Credentials) -> dict[str, Any]:
    def cloud(user: str, password: str, project: str) -> dict[str, Any]:
        return {
            "auth": {
                "auth_url": f"{cfg.public_url}/identity",
                "username": user,
                "password": password,
                "project_name": project,
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "region_name": cfg.get("default", "region"),
            "interface": "public",
            "identity_api_version": 3,
        }

    return {
        "stackbox": cloud("admin", creds.admin_password, "admin"),
        "stackbox-demo": cloud("demo", creds.demo_password, "demo"),
    }


def _write_yaml(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(data, fh, default_flow_style=False, sort_keys=False)
    tmp.replace(path)


def write_clouds_yaml(cfg: Config, creds: Credentials, user_file: Path | None) -> list[Path]:
    """Write STATE_DIR/clouds.yaml; merge our two clouds into `user_file` if given,
    keeping every other cloud there."""
    ours = clouds(cfg, creds)
    written = [cfg.state_dir / "clouds.yaml"]
    _write_yaml(written[0], {"clouds": ours})
    if user_file is not None:
        existing: dict[str, Any] = {}
        if user_file.exists():
            try:
                existing = yaml.safe_load(user_file.read_text()) or {}
            except yaml.YAMLError:
                LOG.warning("%s is not valid YAML; leaving it alone", user_file)
                return written
        if not isinstance(existing.get("clouds"), dict):
            existing["clouds"] = {}
        existing["clouds"].update(ours)
        _write_yaml(user_file, existing)
        written.append(user_file)
    return written


def _banner(cfg: Config, files: list[Path]) -> str:
    env = "" if len(files) > 1 else f"OS_CLIENT_CONFIG_FILE={files[0]} "
    return "\n".join(
        [
            "",
            f"stackbox is running: {cfg.public_url}  (state in {cfg.state_dir})",
            f"  clouds.yaml: {', '.join(str(f) for f in files)}",
            "  try:",
            f"    {env}openstack --os-cloud stackbox token issue",
            f"    {env}openstack --os-cloud stackbox catalog list",
            f"    {env}openstack --os-cloud stackbox project list",
            f"    {env}openstack --os-cloud stackbox image list",
            f"    {env}openstack --os-cloud stackbox-demo token issue",
            "  stop with Ctrl-C",
            "",
        ]
    )


async def run(cfg: Config, *, write_user_file: bool = True) -> int:
    stop = server.stop_on_signals()
    sock = server.try_bind(cfg)
    if sock is None:
        return 2
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    db = await asyncio.to_thread(server.prepare_database, cfg)
    await asyncio.to_thread(recover_images, cfg, db)
    state = server.make_state(cfg, db)
    app = build_app(state)  # reads the policy file: a bad one stops us here
    with db.session() as s:
        creds = await asyncio.to_thread(bootstrap, s, cfg)
        await asyncio.to_thread(ensure_default_flavors, s)
        await asyncio.to_thread(load_metadefs, s)
    bus = sbbus.connect("local://", default_timeout=cfg.get("transport", "rpc_timeout"))
    await bus.start()
    state.bus = bus
    services = await start_roles(cfg, db, bus, state.identity)
    user_file = (
        Path.home() / ".config/openstack/clouds.yaml"
        if write_user_file and cfg.get("up", "write_user_clouds_yaml")
        else None
    )
    files = write_clouds_yaml(cfg, creds, user_file)
    if cfg.get("up", "test_guest"):
        await _test_guest(cfg, app, state)
    http = asyncio.create_task(server.serve_http(state, sock, stop, app))
    await asyncio.sleep(0)
    print(_banner(cfg, files), flush=True)
    print(f"stackbox: ready at {cfg.public_url}", flush=True)
    try:
        await http
    finally:
        LOG.info("stopping")
        for svc in reversed(services):
            await svc.stop()
        await bus.stop()
        db.dispose()
        sock.close()
    print("stackbox: stopped", file=sys.stderr, flush=True)
    return 0


async def _test_guest(cfg: Config, app: Any, state: Any) -> None:
    """Build (cached) and upload the test guest; a cloud without it still starts."""
    from stackbox.guest.build import build_test_guest
    from stackbox.image.seed import seed_test_guest

    out = cfg.state_dir / "guest"
    try:
        artifacts = await asyncio.to_thread(build_test_guest, out)
        LOG.info("test guest ready in %s (kernel %s)", out, artifacts.kernel_version)
        await seed_test_guest(app, state, out)
    except Exception as exc:  # the guest is a convenience: report, go on
        LOG.warning("test guest not available: %s", exc)


async def start_roles(cfg: Config, db: Any, bus: Any, identity: Any = None) -> list[Any]:
    """Every service role, each on the in-process bus: API (heartbeat only), conductor,
    scheduler and compute; the compute host starts last (it reports to the conductor)."""
    from stackbox.compute.manager import create as create_compute
    from stackbox.conductor.build import fail_interrupted_builds
    from stackbox.conductor.manager import ConductorManager
    from stackbox.scheduler.manager import SchedulerManager
    from stackbox.service.runner import Service

    failed = await asyncio.to_thread(fail_interrupted_builds, db)
    if failed:
        LOG.warning(
            "%d server(s) left waiting for a host by the last stop: see their faults", len(failed)
        )
    host = cfg.get("default", "host")
    compute = await create_compute(cfg, bus, host)
    print(f"stackbox: compute uses {compute.virt_description}", flush=True)
    out: list[Any] = []
    for binary, topic, manager in (
        ("stackbox-api", "api", None),
        ("stackbox-conductor", "conductor", ConductorManager(db, host, bus=bus, identity=identity)),
        ("stackbox-scheduler", "scheduler", SchedulerManager(cfg, db)),
        ("stackbox-compute", "compute", compute),
    ):
        svc = Service(cfg, bus, db=db, binary=binary, topic=topic, host=host, manager=manager)
        await svc.start()
        out.append(svc)
    await compute.start()
    out.append(_Stoppable(compute))
    return out


class _Stoppable:
    """Lets the compute manager's periodic tasks stop with the services."""

    def __init__(self, manager: Any) -> None:
        self.manager = manager

    async def stop(self) -> None:
        await self.manager.stop()
