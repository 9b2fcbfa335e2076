"""The standard metadata definitions a fresh cloud has, loaded at `stackbox up` and
`stackbox db upgrade` as `glance-manage db load_metadefs` loads Glance's: the system
resource types, then one namespace per JSON file in `stackbox/image/metadefs/`.

The files describe the flavor extra specs and image properties stackbox honours
(`stackbox/virt/hardware.py`, `virt/numa.py`), never more. Idempotent: a namespace that
exists by name is left as it is (an operator may have changed or deleted its contents),
so restarts change nothing. Flushes; the caller commits."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stackbox.image import metadef_store as store
from stackbox.image.metadef_models import MetadefNamespace

LOG = logging.getLogger(__name__)

DIRECTORY = Path(__file__).parent / "metadefs"
# Glance's seeded system resource types, in its order (clients offer them in lists).
SYSTEM_RESOURCE_TYPES = (
    "OS::Glance::Image",
    "OS::Cinder::Volume",
    "OS::Nova::Flavor",
    "OS::Nova::Aggregate",
    "OS::Nova::Server",
)
# Owner of the loaded namespaces, as glance-manage records it.
OWNER = "admin"


def definitions(directory: Path = DIRECTORY) -> list[dict[str, Any]]:
    """The namespace documents of `directory`, by file name."""
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


def load_metadefs(s: Session, directory: Path = DIRECTORY) -> list[str]:
    """Create the system resource types and the namespaces missing by name; the names
    of the namespaces created."""
    for name in SYSTEM_RESOURCE_TYPES:
        store.resource_type(s, name, protected=True)
    have = set(s.scalars(select(MetadefNamespace.namespace)))
    created = []
    for doc in definitions(directory):
        if doc["namespace"] in have:
            continue
        store.create_namespace(s, doc, OWNER)
        created.append(doc["namespace"])
    s.flush()
    if created:
        LOG.info("loaded metadata definitions: %s", ", ".join(created))
    return created
