"""ConductorManager: the conductor's RPC endpoint, served on topic "conductor".

Every public method is callable over the bus (arguments and results JSON). Keep it
thin: validate, then delegate to the registry or to a workflow module; no transport
code and no business logic of its own belong here.
"""

from __future__ import annotations

import logging
from typing import Any

from stackbox.db import Database
from stackbox.db.base import utcnow
from stackbox.service import registry

LOG = logging.getLogger("stackbox.conductor")


class ConductorManager:
    """RPC endpoint of the conductor. `db` is the service database, `host` this
    conductor's host name."""

    def __init__(self, db: Database, host: str) -> None:
        self.db = db
        self.host = host

    async def ping(self, **kwargs: Any) -> dict[str, Any]:
        """Liveness probe: {"pong": True, "host": ..., "time": ISO-8601 UTC}."""
        return {"pong": True, "host": self.host, "time": utcnow().isoformat() + "Z"}

    def service_heartbeat(self, binary: str, topic: str, service_host: str) -> None:
        """Record a heartbeat cast by a service without database access (sync: the bus
        runs it in a worker thread). The reporting host is `service_host` because
        `host` is the bus's addressing keyword."""
        if not (binary and topic and service_host):
            raise ValueError("service_heartbeat needs binary, topic and service_host")
        with self.db.session() as s:
            registry.record_heartbeat(s, binary, topic, service_host)
