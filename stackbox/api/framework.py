"""How a service declares its HTTP API: a `Router` of handlers, each a plain function.

    router = Router("identity", style="identity")

    @router.route("GET", "/v3/projects/{project_id}")
    def get_project(req: Req) -> dict:
        ...
        req.authorize("identity:get_project", {"target": {"project": row}})
        return {"project": view(row)}

The wrapper around every handler authenticates (`X-Auth-Token`, unless `auth=False`),
runs the router's `prepare` hook (e.g. microversion parsing), reads and size-limits the
body, parses JSON (400 when malformed), validates it against the route's JSON schema
(400), then runs the handler: a sync handler runs in a worker
thread with a database session (`req.db`) that commits when it returns and rolls back
when it raises; an async handler runs on the loop. `ApiError`s become the service's own
error body; anything else is logged and becomes a 500 in the same shape. The router's
`decorate` hook sees every response, errors included, with the `Req` (and whatever
`prepare` stored on it) once the token is accepted; `None` when the request was refused
before that (bad token, unknown method), as OpenStack's token middleware refuses it
before the service sees it.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import jsonschema
import sqlalchemy.exc
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stackbox.api import errors, jsonbody
from stackbox.api.context import RequestContext

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from stackbox.api.app import AppState

LOG = logging.getLogger(__name__)


def query_bool(query: Mapping[str, str], name: str) -> bool | None:
    """The boolean query parameter `name` (None when absent), 400 when it is not one."""
    value = query.get(name)
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("true", "1", "yes", "on", ""):
        return True
    if v in ("false", "0", "no", "off"):
        return False
    raise errors.BadRequest(f"Invalid value for {name!r}: {value!r} is not a boolean.")


Handler = Callable[["Req"], Any]
Decorate = Callable[["Req | None", Response], None]


class Req:
    """What a handler gets: the request, its identity, its parsed input, the app state."""

    __slots__ = ("_session", "body", "ctx", "params", "raw", "route", "state")

    def __init__(
        self, raw: Request, state: AppState, route: RouteSpec, ctx: RequestContext | None, body: Any
    ) -> None:
        self.raw = raw
        self.state = state
        self.route = route
        self.ctx = ctx
        self.body = body
        self.params: dict[str, str] = raw.path_params
        self._session: Session | None = None

    @property
    def db(self) -> Session:
        """This request's database session, opened on first use (sync handlers only:
        it commits when the handler returns and rolls back when it raises)."""
        if self._session is None:
            self._session = self.state.db.open()
        return self._session

    @property
    def query(self) -> Any:
        return self.raw.query_params

    @property
    def headers(self) -> Any:
        return self.raw.headers

    @property
    def base_url(self) -> str:
        """Public URL of this service's prefix, e.g. http://host:8080/identity."""
        return self.state.cfg.public_url + self.route.router.prefix

    @property
    def context(self) -> RequestContext:
        if self.ctx is None:
            raise errors.Unauthorized()
        return self.ctx

    def allowed(self, action: str, target: Mapping[str, Any] | None = None) -> bool:
        return self.state.enforcer.check(action, self.context.policy_creds(), target)

    def authorize(self, action: str, target: Mapping[str, Any] | None = None) -> None:
        """Raise 403 (in the service's wording) unless policy allows `action`."""
        if not self.allowed(action, target):
            raise errors.Forbidden(self.route.router.forbidden_message(action))

    def query_bool(self, name: str) -> bool | None:
        return query_bool(self.query, name)


@dataclass
class RouteSpec:
    router: Router
    method: str
    path: str
    handler: Handler
    auth: bool
    status: int
    schema: dict | None
    is_async: bool
    raw_body: bool
    blocking: bool = False


def body_schema(schema: dict) -> dict:
    """The schema a route's body is checked against: `schema`, or, when it names an
    object's properties without saying that the body is an object (Glance publishes its
    schemas so), `schema` with "type": "object" -- else `true`, `null` or `1` would pass
    it and reach a handler that expects a dict. Made once, when the route is declared."""
    if "type" in schema or not {"properties", "required"} & schema.keys():
        return schema
    return {**schema, "type": "object"}


def _forbidden_default(action: str) -> str:
    return f"You are not authorized to perform the requested action: {action}."


@dataclass
class Router:
    """The routes of one service, mounted at `prefix`, rendering errors in `style`."""

    name: str
    prefix: str
    style: str
    policy_defaults: dict[str, str] = field(default_factory=dict)
    forbidden_message: Callable[[str], str] = _forbidden_default
    # Called on every response of this service (e.g. Vary, microversion headers), errors
    # included; the Req is None when the request was refused before authentication passed.
    decorate: Decorate | None = None
    # Called before the body is read (e.g. to parse microversion headers); may raise ApiError.
    prepare: Callable[[Req], None] | None = None
    specs: list[RouteSpec] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        status: int = 200,
        schema: dict | None = None,
        raw_body: bool = False,
        blocking: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register `fn` for `method` `path`. `blocking`: the handler waits on something
        besides the database (e.g. a bus call), so it always runs in a worker thread,
        never inline on the loop as SQLite GETs otherwise do."""

        def deco(fn: Handler) -> Handler:
            if schema is not None:
                jsonschema.Draft202012Validator.check_schema(schema)
            self.specs.append(
                RouteSpec(
                    self,
                    method.upper(),
                    path,
                    fn,
                    auth,
                    status,
                    None if schema is None else body_schema(schema),
                    inspect.iscoroutinefunction(fn),
                    raw_body,
                    blocking,
                )
            )
            return fn

        return deco

    def render_error(self, err: errors.ApiError) -> Response:
        body, ctype = errors.render(self.style, err)
        resp = Response(body, status_code=err.status, media_type=ctype, headers=err.headers)
        return resp

    def starlette_routes(self, state: AppState) -> list[Route]:
        """Starlette routes; several methods on one path share one Route."""
        by_path: dict[str, dict[str, RouteSpec]] = {}
        for spec in self.specs:
            by_path.setdefault(spec.path, {})[spec.method] = spec
        routes = []
        for path, methods in by_path.items():
            if "GET" in methods and "HEAD" not in methods:
                methods["HEAD"] = methods["GET"]
            # No method list on the Route: _Endpoint answers 405 in the service's style.
            routes.append(Route(path, _Endpoint(self, state, methods)))
        return routes


class _Endpoint:
    """The ASGI app behind one path: picks the method's handler, renders errors."""

    def __init__(self, router: Router, state: AppState, methods: dict[str, RouteSpec]) -> None:
        self.router, self.state, self.methods = router, state, methods

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        router = self.router
        spec = self.methods.get(request.method)
        req: Req | None = None
        try:
            if spec is None:
                raise errors.MethodNotAllowed("The method is not allowed for the requested URL.")
            req = await _admit(spec, self.state, request)
            resp = await _run(req)
        except errors.ApiError as err:
            resp = router.render_error(err)
        except (OverflowError, sqlalchemy.exc.DataError) as exc:
            # A number or text from the request that the database cannot hold or compare
            # (an integer past 64 bits on SQLite, SQLSTATE class 22 on PostgreSQL): the
            # session was rolled back, and the input, not the server, is at fault.
            LOG.info("input out of range in %s %s: %s", request.method, request.url.path, exc)
            resp = router.render_error(
                errors.BadRequest("Invalid input: a value is out of range for its field.")
            )
        except Exception:
            LOG.exception("unexpected error in %s %s", request.method, request.url.path)
            resp = router.render_error(
                errors.InternalError(
                    "An unexpected error prevented the server from fulfilling your request."
                )
            )
        if router.decorate is not None:
            router.decorate(req, resp)
        if request.method == "HEAD":
            resp.body = b""
        if type(resp) in _PLAIN:
            # A complete body: two messages, without Response.__call__'s extras.
            await send(
                {
                    "type": "http.response.start",
                    "status": resp.status_code,
                    "headers": resp.raw_headers,
                }
            )
            await send({"type": "http.response.body", "body": resp.body})
        else:  # streaming and file responses send themselves
            await resp(scope, receive, send)


_PLAIN = (Response, JSONResponse)


async def _admit(spec: RouteSpec, state: AppState, request: Request) -> Req:
    """The request once its token is accepted (401 otherwise: keystonemiddleware's check,
    made before the service sees the request)."""
    ctx = None
    if spec.auth:  # open routes (discovery, POST /auth/tokens) ignore any token sent
        token = request.headers.get("x-auth-token")
        if not token:
            raise errors.Unauthorized()
        ctx = await state.authenticate(token)
        path = request.scope["path"].removeprefix(spec.router.prefix)
        if not ctx.permits(spec.router.name, request.method, path):
            # An application credential limited to other calls (keystonemiddleware: 401).
            raise errors.Unauthorized("Token authorization failed")
    _check_url(request)
    return Req(request, state, spec, ctx, None)


async def _run(req: Req) -> Response:
    spec, state, request = req.route, req.state, req.raw
    if spec.router.prepare is not None:  # before the body: as Nova, 406 wins over bad JSON
        spec.router.prepare(req)
    if not spec.raw_body and request.method in ("POST", "PUT", "PATCH"):
        req.body = await read_json(request, state.cfg.get("api", "max_request_body_size"))
        if spec.schema is not None:
            validate(spec.schema, req.body)
    if spec.is_async:
        result = await spec.handler(req)
    elif state.inline_reads and request.method in ("GET", "HEAD") and not spec.blocking:
        # On SQLite (WAL) reads never wait for a lock and never leave the host, so a
        # worker thread would only add a hand-off: run them on the loop.
        result = _call_sync(spec.handler, req, state)
    else:
        result = await anyio.to_thread.run_sync(
            _call_sync, spec.handler, req, state, limiter=state.limiter
        )
    return to_response(result, spec.status)


def _check_url(request: Request) -> None:
    """400 for a path parameter or query parameter that no id, name or filter can hold
    (a NUL, which PostgreSQL refuses in any text comparison)."""
    words = [
        *request.path_params.values(),
        *(w for kv in request.query_params.multi_items() for w in kv),
    ]
    if not all(jsonbody.is_text(w) for w in words):
        raise errors.BadRequest("Invalid input: the URL holds a NUL character.")


def _call_sync(handler: Handler, req: Req, state: AppState) -> Any:
    try:
        result = handler(req)
        if req._session is not None:
            req._session.commit()
        return result
    except BaseException:
        if req._session is not None:
            req._session.rollback()
        raise
    finally:
        if req._session is not None:
            req._session.close()
            req._session = None


def to_response(result: Any, status: int) -> Response:
    if isinstance(result, Response):
        return result
    headers = None
    if isinstance(result, tuple):
        if len(result) == 3:
            result, status, headers = result
        else:
            result, status = result
    if result is None:
        return Response(status_code=status if status != 200 else 204, headers=headers)
    return JSONResponse(result, status_code=status, headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing more than `limit` bytes with 413."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise errors.PayloadTooLarge(f"Request is too large (limit {limit} bytes).")
        except ValueError:
            raise errors.BadRequest("Invalid Content-Length header.") from None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.PayloadTooLarge(f"Request is too large (limit {limit} bytes).")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int) -> Any:
    return jsonbody.parse(await read_body(request, limit))


# Formats ("ipv4", "ipv6", ...) are checked, as Nova's validator does.
FORMATS = jsonschema.FormatChecker()
# Compiled validators, least recently used first. Keyed by id() but holding the schema
# itself, so an id is never reused while its entry lives; bounded, so a caller that
# builds schemas per request costs time, not memory. Schemas are module constants: the
# bound is far above their number.
VALIDATORS_MAX = 512
_VALIDATORS: OrderedDict[int, tuple[dict, jsonschema.protocols.Validator]] = OrderedDict()
_VALIDATORS_LOCK = threading.Lock()


def validator(schema: dict) -> jsonschema.protocols.Validator:
    """The compiled (Draft 2020-12, formats checked) validator of `schema`."""
    key = id(schema)
    with _VALIDATORS_LOCK:
        entry = _VALIDATORS.get(key)
        if entry is not None and entry[0] is schema:
            _VALIDATORS.move_to_end(key)
            return entry[1]
    compiled = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
    with _VALIDATORS_LOCK:
        _VALIDATORS[key] = (schema, compiled)
        _VALIDATORS.move_to_end(key)
        while len(_VALIDATORS) > VALIDATORS_MAX:
            _VALIDATORS.popitem(last=False)
    return compiled


def validate(schema: dict, body: Any) -> None:
    """400 with a message naming the offending field when `body` breaks `schema`."""
    error = jsonschema.exceptions.best_match(validator(schema).iter_errors(body))
    if error is None:
        return
    where = ".".join(str(p) for p in error.absolute_path)
    if body is None:
        raise errors.BadRequest("A request body is required.")
    if where:
        raise errors.BadRequest(f"Invalid input for field '{where}': {error.message}")
    raise errors.BadRequest(f"Invalid input: {error.message}")
