"""`stackbox serve api`: the API alone, for scale-out (server database, RabbitMQ).

The schema must already be migrated and identity bootstrapped (`stackbox db upgrade`),
so that several API processes can start at once without racing on either.
"""

from __future__ import annotations

import asyncio
import logging

from stackbox import bus as sbbus
from stackbox.api import server
from stackbox.api.app import build_app
from stackbox.config import Config
from stackbox.db import Database, migrate
from stackbox.service import roles
from stackbox.service.runner import Service

LOG = logging.getLogger("stackbox.api")


async def run(cfg: Config, stop: asyncio.Event) -> int:
    db = Database(cfg.database_url, cfg.get("database", "pool_size"))
    have, want = migrate.current(db.engine), migrate.head()
    if have != want:
        LOG.error(
            "database schema is at %s, this stackbox needs %s: run `stackbox db upgrade` first",
            have or "nothing",
            want,
        )
        db.dispose()
        return 2
    sock = server.try_bind(cfg)
    if sock is None:
        return 2
    bus = sbbus.connect(
        cfg.get("transport", "url"),
        exchange=cfg.get("transport", "exchange"),
        default_timeout=cfg.get("transport", "rpc_timeout"),
    )
    try:
        await bus.start()
    except sbbus.BusError as exc:
        LOG.error("cannot start the api: %s", exc)
        db.dispose()
        sock.close()
        return 2
    state = server.make_state(cfg, db, bus)
    try:
        app = build_app(state)  # reads the policy file: a bad one stops us before "ready"
    except BaseException:
        await bus.stop()
        db.dispose()
        sock.close()
        raise
    role = roles.get("api")
    svc = Service(
        cfg, bus, db=db, binary=role.binary, topic=role.topic, host=cfg.get("default", "host")
    )
    await svc.start()
    LOG.info("api ready at %s", cfg.public_url)
    print(f"stackbox: api ready at {cfg.public_url}", flush=True)
    try:
        await server.serve_http(state, sock, stop, app)
    finally:
        await svc.stop()
        await bus.stop()
        db.dispose()
        sock.close()
    return 0
