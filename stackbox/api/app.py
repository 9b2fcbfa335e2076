"""The one ASGI application: every service's router mounted at its prefix, behind the
request-id/access-log middleware. `api_services()` is the one list of the API's
services: each one's router, its startup hook (run by `stackbox.api.server.make_state`)
and its all-in-one recovery (run by `stackbox.api.server.recover_services`)."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stackbox import log as sblog
from stackbox.api import errors
from stackbox.api.context import RequestContext
from stackbox.api.framework import Router
from stackbox.api.policy import Enforcer
from stackbox.api.routing import IndexedRouter
from stackbox.compute.api import ROUTER as COMPUTE_ROUTER
from stackbox.config import Config
from stackbox.db import Database
from stackbox.identity import secrets
from stackbox.identity.api import ROUTER as IDENTITY_ROUTER
from stackbox.image import protections
from stackbox.image.api import ROUTER as IMAGE_ROUTER
from stackbox.image.recovery import recover as recover_images

LOG = logging.getLogger("stackbox.api")


@dataclass(frozen=True)
class ApiService:
    """One service of the API. `startup(state)` runs when the API process starts: it
    reads the service's operator files into `state.extras`, raising on a broken one.
    `recover(cfg, db)` runs at the all-in-one start only, before the API serves: it
    finishes what a crash left half-done (in scale-out another API host may be busy
    with it, so there the operator runs it)."""

    router: Router
    startup: Callable[[AppState], None] | None = None
    recover: Callable[[Config, Database], object] | None = None


def api_services() -> list[ApiService]:
    """Every service of the API, in mount order."""
    return [
        ApiService(IDENTITY_ROUTER, startup=load_credential_keys),
        ApiService(IMAGE_ROUTER, startup=load_image_protections, recover=recover_images),
        ApiService(COMPUTE_ROUTER),
    ]


def service_routers() -> list[Router]:
    """Every service's router, from `api_services()`."""
    return [service.router for service in api_services()]


def load_credential_keys(state: AppState) -> None:
    """The identity service's startup: the keys of stored credentials' blobs exist and
    are read before the first request needs them."""
    secrets.box_for(state.cfg)


def load_image_protections(state: AppState) -> None:
    """The image service's startup: its property protection rules file, if set."""
    path = state.cfg.get("image", "property_protection_file")
    if path:
        state.extras["image.protections"] = protections.load(
            path, state.cfg.get("image", "property_protection_rule_format")
        )


@dataclass
class AppState:
    """What every handler can reach: configuration, database, bus, policy, identity."""

    cfg: Config
    db: Database
    enforcer: Enforcer
    bus: Any = None
    limiter: anyio.CapacityLimiter | None = None
    identity: Any = None  # stackbox.identity.tokens.TokenService
    # Run GET handlers on the event loop instead of a worker thread (SQLite only).
    inline_reads: bool = False
    extras: dict[str, Any] = field(default_factory=dict)

    async def authenticate(self, token: str) -> RequestContext:
        return await self.identity.authenticate(token)


class RequestIdMiddleware:
    """Gives every request an `x-openstack-request-id`, logs one access line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        h = os.urandom(16).hex()  # a random (version 4) UUID, spelled out
        rid = f"req-{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"
        token = sblog.request_id.set(rid)
        start = time.perf_counter()
        status = 0
        header = (b"x-openstack-request-id", rid.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if sblog.ACCESS.enabled:
                sblog.ACCESS.write(
                    scope["method"],
                    scope["path"],
                    status,
                    round((time.perf_counter() - start) * 1000, 2),
                    (scope.get("client") or ("-",))[0],
                    rid,
                )
            sblog.request_id.reset(token)


def _error_response(router: Router | None, status: int, detail: str | None) -> Response:
    if status == 404:
        err: errors.ApiError = errors.NotFound("The resource could not be found.")
    elif status == 405:
        err = errors.MethodNotAllowed("The method is not allowed for the requested URL.")
    else:
        err = errors.for_status(status, detail)
    if router is None:
        body = {"error": {"code": err.status, "message": err.message}}
        return Response(json.dumps(body), status_code=err.status, media_type="application/json")
    resp = router.render_error(err)
    if router.decorate is not None:
        router.decorate(None, resp)
    return resp


def _not_found(router: Router) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _error_response(router, 404, None)(scope, receive, send)

    return app


def build_app(state: AppState, routers: list[Router] | None = None) -> ASGIApp:
    routers = service_routers() if routers is None else routers
    for router in routers:
        state.enforcer.register_defaults(router.policy_defaults)
    policy_file = state.cfg.get("api", "policy_file")
    if policy_file:
        state.enforcer.load_file(policy_file)
    if state.cfg.get("api", "inline_reads") == "auto":
        state.inline_reads = state.db.backend == "sqlite"
    else:
        state.inline_reads = state.cfg.get("api", "inline_reads") == "true"
    if state.limiter is None:
        state.limiter = anyio.CapacityLimiter(state.cfg.get("api", "workers_threads"))
    services: dict[str, tuple[Router, ASGIApp]] = {}
    for router in routers:
        sub = IndexedRouter(router.starlette_routes(state), default=_not_found(router))
        services[router.prefix] = (router, sub)
    return RequestIdMiddleware(Dispatcher(services))


class Dispatcher:
    """Sends each request to the service whose prefix starts its path (one dict
    lookup); the service's router matches the rest. `/identity` and `/identity/` are
    both the service root."""

    def __init__(self, services: dict[str, tuple[Router, ASGIApp]]) -> None:
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        end = path.find("/", 1)
        prefix = path if end < 0 else path[:end]
        entry = self.services.get(prefix)
        if entry is None:
            await _error_response(None, 404, None)(scope, receive, send)
            return
        if end < 0:
            scope = {**scope, "path": prefix + "/"}
        scope["root_path"] = scope.get("root_path", "") + prefix
        await entry[1](scope, receive, send)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
