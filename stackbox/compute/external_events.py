"""What a compute host does with the external events other services send about its
instances (POST /os-server-external-events, relayed by the API): Neutron's
`network-changed`, `network-vif-plugged`, `network-vif-unplugged`,
`network-vif-deleted`, Cinder's `volume-extended` and `volume-reimaged`, Ironic's
`power-update`, Cyborg's `accelerator-request-bound`.

For now none has a handler: stackbox has no Networking or Block Storage service yet
to send them or to act on, so every event is only logged, and `HANDLERS` is empty.
Networking and volumes add theirs here (a vif-plugged waiter for boots, a volume
resize for extends): a handler takes the host's context and the event. Nothing here
writes to the database; the API recorded what Nova records before the cast.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

LOG = logging.getLogger("stackbox.compute")

Event = dict[str, Any]  # {"server_uuid", "name", "status", "tag"?}
Handler = Callable[[Any, Event], Awaitable[None]]

# event name -> its handler; an event without one is logged and dropped.
HANDLERS: dict[str, Handler] = {}


async def dispatch(ctx: Any, host: str, events: list[Event]) -> list[Event]:
    """Run each event's handler; log and return the ones without a handler."""
    unhandled = []
    for event in events:
        handler = HANDLERS.get(event["name"])
        if handler is not None:
            await handler(ctx, event)
            continue
        LOG.info(
            "external event %s (tag %s, status %s) for instance %s on %s: nothing handles it yet",
            event["name"],
            event.get("tag"),
            event.get("status"),
            event["server_uuid"],
            host,
        )
        unhandled.append(event)
    return unhandled
