"""The one ASGI application: every service's router mounted at its prefix, behind the
request-id/access-log middleware. `SERVICES` lists the routers; a new service adds
its `Router` there and nothing else changes."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stackbox import log as sblog
from stackbox.api import errors
from stackbox.api.context import RequestContext
from stackbox.api.framework import Router
from stackbox.api.policy import Enforcer
from stackbox.config import Config
from stackbox.db import Database

LOG = logging.getLogger("stackbox.api")
ACCESS = logging.getLogger("stackbox.api.access")


def service_routers() -> list[Router]:
    """Every service's router. Imported lazily so a missing optional dependency of one
    service cannot break the import of this module."""
    from stackbox.identity.api import ROUTER as identity

    return [identity]


@dataclass
class AppState:
    """What every handler can reach: configuration, database, bus, policy, identity."""

    cfg: Config
    db: Database
    enforcer: Enforcer
    bus: Any = None
    limiter: anyio.CapacityLimiter | None = None
    identity: Any = None  # stackbox.identity.tokens.TokenService
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
        rid = f"req-{uuid.uuid4()}"
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
            if ACCESS.isEnabledFor(logging.INFO):
                ACCESS.info("%s %s", scope["method"], scope["path"], extra=sblog.kv(
                    status=status, ms=round((time.perf_counter() - start) * 1000, 2),
                    client=(scope.get("client") or ("-",))[0]))
            sblog.request_id.reset(token)


def _styled_http_exception(router: Router) -> Callable[[Request, Exception], Response]:
    def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            err: errors.ApiError = errors.NotFound("The resource could not be found.")
        elif exc.status_code == 405:
            err = errors.MethodNotAllowed("The method is not allowed for the requested URL.")
        else:
            err = errors.for_status(exc.status_code, exc.detail)
        resp = router.render_error(err)
        if router.decorate is not None:
            router.decorate(None, resp)
        return resp
    return handler


def _root_not_found(request: Request, exc: Exception) -> Response:
    code = getattr(exc, "status_code", 404)
    body = {"error": {"code": code, "message": "The resource could not be found."
                      if code == 404 else str(getattr(exc, "detail", ""))}}
    return Response(json.dumps(body), status_code=code, media_type="application/json")


def build_app(state: AppState, routers: list[Router] | None = None) -> ASGIApp:
    routers = service_routers() if routers is None else routers
    for router in routers:
        state.enforcer.register_defaults(router.policy_defaults)
    policy_file = state.cfg.get("api", "policy_file")
    if policy_file:
        state.enforcer.load_file(policy_file)
    if state.limiter is None:
        state.limiter = anyio.CapacityLimiter(state.cfg.get("api", "workers_threads"))
    mounts = []
    for router in routers:
        sub = Starlette(routes=router.starlette_routes(state),
                        exception_handlers={HTTPException: _styled_http_exception(router)})
        mounts.append(Mount(router.prefix, app=sub))
    root = Starlette(routes=mounts, exception_handlers={HTTPException: _root_not_found})
    root.state.stackbox = state
    return RequestIdMiddleware(root)
