"""The `stackbox` command: up, serve ROLE, status, db upgrade, config show.

Each command imports what it runs when it runs: importing the database layer, the
services or libvirt up front would slow every `stackbox status` or `--help` (importing
the API alone takes over a second)."""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from stackbox import config as sbconfig
from stackbox import log as sblog
from stackbox.service import roles


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stackbox", description="An OpenStack-compatible cloud in one Python package."
    )
    p.add_argument("--config", help="TOML config file (default: $STACKBOX_CONFIG)")
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR")
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the all-in-one cloud in the foreground")
    up.add_argument("--state-dir", help="where state lives")
    up.add_argument("--port", type=int, help="API port (default 8080)")
    up.add_argument("--bind", help="API address (default 0.0.0.0)")
    up.add_argument(
        "--no-user-clouds-yaml",
        action="store_true",
        help="do not merge into ~/.config/openstack/clouds.yaml",
    )

    serve = sub.add_parser("serve", help="run one service role (scale-out)")
    serve.add_argument("role", choices=roles.choices())

    sub.add_parser("status", help="services, their hosts, up/down")
    db = sub.add_parser("db", help="database schema")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    dbsub.add_parser(
        "upgrade", help="migrate the schema to the newest version and bootstrap identity"
    )
    dbsub.add_parser("version", help="print the schema version")
    cfg = sub.add_parser("config", help="configuration")
    cfgsub = cfg.add_subparsers(dest="config_command", required=True)
    cfgsub.add_parser("show", help="print every option's effective value and its source")
    image = sub.add_parser("image", help="guest images")
    imagesub = image.add_subparsers(dest="image_command", required=True)
    build_test = imagesub.add_parser(
        "build-test",
        help="build the tiny test guest (qcow2 + kernel/ramdisk) from Debian packages",
    )
    build_test.add_argument("--output", help="output directory (default: the build cache)")
    virt = sub.add_parser("virt", help="what the hypervisor has; orphaned domains")
    virtsub = virt.add_subparsers(dest="virt_command", required=True)
    doms = virtsub.add_parser(
        "domains", help="each domain's id, name, uuid, state and owner; orphans to remove"
    )
    disks = virtsub.add_parser("disks", help="a domain's disks: target, source file, format")
    disks.add_argument("domain", help="domain name or uuid")
    orphans = virtsub.add_parser(
        "remove-orphans",
        help="force off and undefine the domains of a stackbox cloud that `virt domains` "
        "lists as orphans (a wiped cloud's; this cloud's without an instance row)",
    )
    orphans.add_argument("--cloud", required=True, help="the cloud id the domains are marked with")
    for vp in (doms, disks, orphans):
        vp.add_argument(
            "--uri", help="libvirt URI (default: compute.virt_uri, else qemu:///system)"
        )
    return p


def _load(args: argparse.Namespace) -> sbconfig.Config:
    overrides: dict[tuple[str, str], Any] = {
        ("default", "log_level"): args.log_level,
        ("default", "state_dir"): getattr(args, "state_dir", None),
        ("api", "port"): getattr(args, "port", None),
        ("api", "bind"): getattr(args, "bind", None),
    }
    return sbconfig.load(args.config, overrides=overrides)


def _run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.run(coro)
    return uvloop.run(coro)


def _tune_malloc() -> None:
    """Keep big short-lived buffers (the password KDF's 19 MiB per verification, image
    chunks) out of glibc's heap arenas: with its dynamic mmap threshold they stay
    resident after use (+150 MiB RSS after a burst of logins on 8 threads)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return
    libc.mallopt(-3, 1024 * 1024)  # M_MMAP_THRESHOLD: fixed (1 MiB), no dynamic growth
    libc.mallopt(-8, 4)  # M_ARENA_MAX


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("up", "serve"):
        _tune_malloc()
    try:
        cfg = _load(args)
    except sbconfig.ConfigError as exc:
        print(f"stackbox: {exc}", file=sys.stderr)
        return 2
    sblog.setup(cfg.get("default", "log_level"), cfg.get("default", "log_format"))
    if args.command in ("up", "serve"):
        from stackbox.api.policy import PolicyError
        from stackbox.image.protections import ProtectionError

        try:
            if args.command == "up":
                from stackbox import allinone

                return _run(allinone.run(cfg, write_user_file=not args.no_user_clouds_yaml))
            return _run(_serve(cfg, args.role))
        except (PolicyError, ProtectionError) as exc:
            print(f"stackbox: cannot start: {exc}", file=sys.stderr)
            return 2
    if args.command == "status":
        return _status(cfg)
    if args.command == "db":
        return _db(cfg, args.db_command)
    if args.command == "config":
        return _config_show(cfg)
    if args.command == "image":
        return _image_build_test(args.output)
    if args.command == "virt":
        from stackbox.virt import tools

        uri = args.uri or tools.default_uri(cfg.get("compute", "virt_uri"))
        if args.virt_command == "domains":
            return tools.domains_command(uri, cloud=_this_cloud(cfg))
        if args.virt_command == "remove-orphans":
            from stackbox.virt import orphans

            return orphans.remove_orphans_command(uri, args.cloud, _this_cloud(cfg))
        return tools.disks_command(uri, args.domain)
    return 2


def _this_cloud(cfg: sbconfig.Config) -> Any:
    """This cloud's id and instance uuids for `stackbox virt`, read (never created) from
    its database; unknown (tools.Cloud()) where there is none, e.g. a compute host."""
    from sqlalchemy.exc import SQLAlchemyError

    from stackbox.compute import cloud
    from stackbox.db import Database
    from stackbox.virt import tools

    if not cfg.get("database", "connection") and not (cfg.state_dir / "stackbox.db").exists():
        return tools.Cloud()
    db = Database(cfg.database_url)
    try:
        with db.session() as s:
            cloud_id, uuids = cloud.known(s)
    except SQLAlchemyError as exc:
        print(f"stackbox: this cloud's database is not readable ({exc})", file=sys.stderr)
        return tools.Cloud()
    finally:
        db.dispose()
    return tools.Cloud(cloud_id, uuids if cloud_id is not None else None)


def _image_build_test(output: str | None) -> int:
    from pathlib import Path

    from stackbox.guest.build import build_test_guest, default_cache_dir
    from stackbox.guest.debs import GuestBuildError

    out = Path(output) if output else default_cache_dir() / "artifacts"
    try:
        guest = build_test_guest(out)
    except GuestBuildError as exc:
        print(f"stackbox: {exc}", file=sys.stderr)
        return 1
    print(f"kernel {guest.kernel_version} ({'built' if guest.rebuilt else 'up to date'})")
    for kind, path in (*guest.files().items(), ("manifest", guest.manifest)):
        print(f"{kind:9} {path}  {path.stat().st_size:,} bytes")
    return 0


def _config_show(cfg: sbconfig.Config) -> int:
    print(f"# effective configuration (file: {cfg.path or 'none'})")
    for key, value, source, help_text in cfg.rows():
        print(f"{key} = {value}    # {source}; {help_text}")
    return 0


def _db(cfg: sbconfig.Config, what: str) -> int:
    from stackbox.db import Database, migrate

    db = Database(cfg.database_url)
    try:
        if what == "upgrade":
            from stackbox.compute.bootstrap import ensure_default_flavors
            from stackbox.identity.bootstrap import bootstrap
            from stackbox.image.metadef_load import load_metadefs

            migrate.upgrade(db.engine)
            with db.session() as s:
                bootstrap(s, cfg)
                ensure_default_flavors(s)
                load_metadefs(s)
            print(
                f"database at revision {migrate.current(db.engine)}; identity, default "
                "flavors and metadata definitions bootstrapped"
            )
        else:
            print(migrate.current(db.engine) or "empty")
    finally:
        db.dispose()
    return 0


def _status(cfg: sbconfig.Config) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from stackbox.db import Database
    from stackbox.service import registry

    if not cfg.get("database", "connection") and not (cfg.state_dir / "stackbox.db").exists():
        print(
            f"stackbox: no database in {cfg.state_dir}: start `stackbox up` (or pass the "
            "scale-out --config)",
            file=sys.stderr,
        )
        return 1
    db = Database(cfg.database_url)
    try:
        with db.session() as s:
            rows = registry.status_rows(s, cfg.get("service", "service_down_time"))
    except SQLAlchemyError as exc:
        print(
            f"stackbox: cannot read the service registry from {_safe_url(cfg)}: "
            f"{exc.__class__.__name__} ({exc.orig if hasattr(exc, 'orig') else exc!s})."
            " Is this the right --config / state dir, and has `stackbox db upgrade` or "
            "`stackbox up` run?",
            file=sys.stderr,
        )
        return 1
    finally:
        db.dispose()
    cols = ["id", "binary", "host", "zone", "status", "state", "updated_at"]
    table = [[str(r.get(c) if r.get(c) is not None else "") for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in table)) for i, c in enumerate(cols)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    print(line)
    print("| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)) + " |")
    print(line)
    for row in table:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |")
    print(line)
    return 0


def _safe_url(cfg: sbconfig.Config) -> str:
    return dict((k, v) for k, v, _s, _h in cfg.rows())["database.connection"] or cfg.database_url


async def _serve(cfg: sbconfig.Config, role: str) -> int:
    from stackbox.api.server import stop_on_signals
    from stackbox.service import runner

    try:
        return await runner.serve(cfg, role, stop_on_signals())
    except runner.RoleError as exc:
        logging.getLogger("stackbox").error("%s", exc)
        print(f"stackbox: {exc}", file=sys.stderr)
        return 2
