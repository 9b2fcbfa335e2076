"""The `OS-TRUST:trust` scope of `POST /v3/auth/tokens`: a trustee gets a token on the
trust's project with the trust's roles (still held by the trustor), shown as the
trustor when the trust impersonates; each token spends one of a limited trust's uses.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.identity import trusts
from stackbox.identity.models import User

TRUST_SCOPE = "OS-TRUST:trust"


def issue(req: Req, user: User, methods: tuple[str, ...], ref: Any, kw: dict) -> Response:
    """201 with a trust-scoped token for `user` (the trustee), or Keystone's 401/403."""
    if not isinstance(ref, dict) or not ref.get("id"):
        raise errors.BadRequest("Invalid input for field 'trust_id': it is required.")
    ts = trusts.scope(req.db, str(ref["id"]), user.id)
    trusts.consume_use(req.db, ts.trust)
    svc = req.state.identity
    token, ctx = svc.issue(req.db, user, methods, project=ts.project, trust_id=ts.trust.id, **kw)
    body = svc.token_body(req.db, ctx, with_catalog="nocatalog" not in req.query)
    return JSONResponse(body, status_code=201, headers={"X-Subject-Token": token})
