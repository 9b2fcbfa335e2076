"""API errors and the JSON error body each OpenStack API uses.

Handlers raise `ApiError` subclasses; the service's router renders them in its own
style (identity, compute/volume, network, image). Nothing here knows about HTTP
frameworks.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar


class ApiError(Exception):
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"
    # Neutron's error "type"; subclasses or callers may override per instance.
    neutron_type: ClassVar[str] = "HTTPInternalServerError"

    def __init__(
        self,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        kind: str | None = None,
    ) -> None:
        self.message = message or self.title
        self.headers = headers or {}
        self.kind = kind
        super().__init__(self.message)


class BadRequest(ApiError):
    status, title, neutron_type = 400, "Bad Request", "HTTPBadRequest"


class Unauthorized(ApiError):
    status, title, neutron_type = 401, "Unauthorized", "HTTPUnauthorized"

    def __init__(self, message: str | None = None, **kw: Any) -> None:
        super().__init__(message or "The request you have made requires authentication.", **kw)


class Forbidden(ApiError):
    status, title, neutron_type = 403, "Forbidden", "HTTPForbidden"


class NotFound(ApiError):
    status, title, neutron_type = 404, "Not Found", "HTTPNotFound"


class MethodNotAllowed(ApiError):
    status, title, neutron_type = 405, "Method Not Allowed", "HTTPMethodNotAllowed"


class NotAcceptable(ApiError):
    status, title, neutron_type = 406, "Not Acceptable", "HTTPNotAcceptable"


class Conflict(ApiError):
    status, title, neutron_type = 409, "Conflict", "HTTPConflict"


class PayloadTooLarge(ApiError):
    status, title, neutron_type = 413, "Request Entity Too Large", "HTTPRequestEntityTooLarge"


class UnsupportedMediaType(ApiError):
    status, title, neutron_type = 415, "Unsupported Media Type", "HTTPUnsupportedMediaType"


class TooManyRequests(ApiError):
    status, title, neutron_type = 429, "Too Many Requests", "HTTPTooManyRequests"


class InternalError(ApiError):
    status, title = 500, "Internal Server Error"


class NotImplementedYet(ApiError):
    status, title, neutron_type = 501, "Not Implemented", "HTTPNotImplemented"


class ServiceUnavailable(ApiError):
    status, title, neutron_type = 503, "Service Unavailable", "HTTPServiceUnavailable"


_BY_STATUS = {
    c.status: c
    for c in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        NotAcceptable,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        TooManyRequests,
        InternalError,
        NotImplementedYet,
        ServiceUnavailable,
    )
}


def for_status(status: int, message: str | None = None) -> ApiError:
    cls = _BY_STATUS.get(status, InternalError)
    err = cls(message)
    return err


# Nova/Cinder name the top-level key of an error after its status.
NOVA_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


def render(style: str, err: ApiError) -> tuple[bytes, str]:
    """(body, content type) of `err` in an API's own style."""
    if style == "identity":
        body: Any = {"error": {"code": err.status, "title": err.title, "message": err.message}}
    elif style == "compute":
        body = {
            NOVA_NAMES.get(err.status, "computeFault"): {"code": err.status, "message": err.message}
        }
    elif style == "network":
        body = {
            "NeutronError": {
                "type": err.kind or err.neutron_type,
                "message": err.message,
                "detail": "",
            }
        }
    elif style == "image":
        # Glance answers errors with a short text/html page.
        text = (
            f"<html>\n <head>\n  <title>{err.status} {err.title}</title>\n </head>\n"
            f" <body>\n  <h1>{err.status} {err.title}</h1>\n  {_html(err.message)}<br />"
            f"<br />\n\n\n\n </body>\n</html>"
        )
        return text.encode(), "text/html; charset=UTF-8"
    else:
        body = {"error": {"code": err.status, "message": err.message}}
    return json.dumps(body).encode(), "application/json"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
