"""Finding the resources a compute request names, scoped to what the caller may see,
and handing work to the bus from a (sync, worker-thread) handler.

- `get_instance(req, server_id)`: the non-deleted instance, 404 (Nova's message) when
  it does not exist or belongs to another project and the caller is not an admin.
- `send(coro_fn, *args)`: run an async bus client method from a sync handler. Commit
  first: a cast must never overtake the rows it refers to (`commit_and_send`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import anyio.from_thread
from sqlalchemy import select

from stackbox import log as sblog
from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.compute.models import Instance


def get_instance(req: Req, server_id: str, *, with_deleted: bool = False) -> Instance:
    q = select(Instance).where(Instance.uuid == server_id)
    if not with_deleted:
        q = q.where(Instance.deleted.is_(False))
    inst = req.db.scalar(q)
    ctx = req.context
    if inst is None or (inst.project_id != ctx.project_id and not req.allowed("context_is_admin")):
        raise errors.NotFound(f"Instance {server_id} could not be found.")
    return inst


def target(inst: Instance) -> dict[str, str]:
    """Policy target of an instance."""
    return {"project_id": inst.project_id, "user_id": inst.user_id}


def request_id() -> str:
    """This request's id (x-openstack-request-id), which instance actions are keyed by."""
    rid = sblog.request_id.get()
    assert rid is not None, "no request id outside a request"
    return rid


def send(fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any, **kwargs: Any) -> Any:
    """Run the bus client coroutine `fn(*args, **kwargs)` on the event loop and wait."""
    return anyio.from_thread.run(lambda: fn(*args, **kwargs))


def commit_and_send(
    req: Req, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any, **kw: Any
) -> Any:
    req.db.commit()
    return send(fn, *args, **kw)
