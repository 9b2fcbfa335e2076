"""Assemble the API process: state (database, policy, identity) and the HTTP server.

Used by `stackbox up` (with every role beside it on the in-process bus) and by
`stackbox serve api` (alone, over a server database and RabbitMQ).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

from stackbox.api.app import AppState, build_app
from stackbox.api.policy import Enforcer
from stackbox.config import Config
from stackbox.db import Database, migrate
from stackbox.identity import passwords, secrets
from stackbox.identity.tokens import KeyRepository, TokenService
from stackbox.image import protections

LOG = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the process owner (`stackbox up` or
    `serve`) handles SIGINT/SIGTERM and sets the stop event."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def prepare_database(cfg: Config) -> Database:
    """Open the database and bring its schema to the newest migration."""
    db = Database(cfg.database_url, cfg.get("database", "pool_size"))
    migrate.upgrade(db.engine)
    return db


def make_state(cfg: Config, db: Database, bus: object = None) -> AppState:
    passwords.configure(
        cfg.get("identity", "password_hash_time_cost"),
        cfg.get("identity", "password_hash_memory_kib"),
    )
    keys = KeyRepository(cfg.key_repository)
    keys.ensure()
    secrets.box_for(cfg)  # credential keys exist (and are read) before the first request
    identity = TokenService(
        db,
        keys,
        expiration=cfg.get("identity", "token_expiration"),
        cache_time=cfg.get("identity", "token_cache_time"),
        revision_interval=cfg.get("identity", "revision_check_interval"),
    )
    state = AppState(cfg=cfg, db=db, enforcer=Enforcer(), bus=bus, identity=identity)
    # Rule files are read now, so a broken one stops the start with its reason rather
    # than failing the first request that needs it.
    path = cfg.get("image", "property_protection_file")
    if path:
        state.extras["image.protections"] = protections.load(
            path, cfg.get("image", "property_protection_rule_format")
        )
    return state


def bind_socket(cfg: Config) -> socket.socket:
    """Bind the API port before anything slow starts, so a busy port fails at once."""
    host, port = cfg.get("api", "bind"), cfg.get("api", "port")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # connections queue from here on, before the app is up
    sock.set_inheritable(True)
    return sock


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM: how `up` and `serve` are stopped."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def try_bind(cfg: Config) -> socket.socket | None:
    """`bind_socket`, or None after logging why the port cannot be had."""
    try:
        return bind_socket(cfg)
    except OSError as exc:
        LOG.error(
            "cannot listen on %s:%s: %s",
            cfg.get("api", "bind"),
            cfg.get("api", "port"),
            exc.strerror,
        )
        return None


async def serve_http(
    state: AppState, sock: socket.socket, stop: asyncio.Event, app: Any = None
) -> None:
    app = app if app is not None else build_app(state)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        http="httptools",
        timeout_keep_alive=30,
        timeout_graceful_shutdown=10,
        server_header=False,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if task not in done:
        server.should_exit = True
        await task
    stopper.cancel()
    if task.exception():
        raise task.exception()  # type: ignore[misc]
