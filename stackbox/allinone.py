"""`stackbox up`: the whole cloud in one process on the in-process bus.

Binds the API port, migrates and bootstraps the SQLite database in the state dir,
repairs what a crash left half-done, starts every all-in-one role of the registry
(`stackbox.service.roles.ROLES`) beside the API, writes clouds.yaml, prints `ready`,
and runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any, Protocol, cast

import yaml

from stackbox import bus as sbbus
from stackbox.api import server
from stackbox.api.app import build_app
from stackbox.compute.bootstrap import ensure_default_flavors
from stackbox.config import Config
from stackbox.db import Database
from stackbox.guest.build import build_test_guest
from stackbox.identity.bootstrap import Credentials, bootstrap
from stackbox.identity.tokens import TokenService
from stackbox.image.metadef_load import load_metadefs
from stackbox.image.seed import seed_test_guest
from stackbox.service import roles
from stackbox.service.roles import RoleContext
from stackbox.service.runner import Service

LOG = logging.getLogger("stackbox.up")


class Stoppable(Protocol):
    async def stop(self) -> None: ...


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
    await asyncio.to_thread(server.recover_services, cfg, db)
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
    out = cfg.state_dir / "guest"
    try:
        artifacts = await asyncio.to_thread(build_test_guest, out)
        LOG.info("test guest ready in %s (kernel %s)", out, artifacts.kernel_version)
        await seed_test_guest(app, state, out)
    except Exception as exc:  # the guest is a convenience: report, go on
        LOG.warning("test guest not available: %s", exc)


async def start_roles(
    cfg: Config, db: Database, bus: sbbus.Bus, identity: TokenService | None = None
) -> list[Stoppable]:
    """Every all-in-one role of the registry (`stackbox.service.roles.ROLES`), in its
    order, on the in-process bus, each with the database: their recovery first, then
    every manager built, served and heartbeating, then the managers' own tasks. Returns
    what to stop, in start order (stop it reversed)."""
    chosen = roles.allinone_roles()
    for role in chosen:
        if role.recover is not None:
            await asyncio.to_thread(role.recover, db)
    ctx = RoleContext(cfg, bus, cfg.get("default", "host"), db, identity, allinone=True)
    built = [(role, await role.build(ctx) if role.build else None) for role in chosen]
    out: list[Stoppable] = []
    for role, manager in built:
        svc = Service(
            cfg, bus, db=db, binary=role.binary, topic=role.topic, host=ctx.host, manager=manager
        )
        await svc.start()
        out.append(svc)
    for role, manager in built:
        if role.tasks:
            tasks = cast(roles.Tasks, manager)
            await tasks.start()
            out.append(tasks)
    return out
