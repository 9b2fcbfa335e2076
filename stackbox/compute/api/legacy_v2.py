"""The legacy v2 API at /compute/v2, mounted as Nova mounts it: not a second API but the
v2.1 one in "v2.1 compatible mode" (Nova's `openstack_compute_api_v21_legacy_v2_compatible`
pipeline). Every /v2.1/... route is also served at /v2/... by the same handler; on
those routes the microversion headers are ignored (the version is always 2.1) and none
are echoed, nor `Vary` on them (`microversion.prepare` and `decorate` ask `is_legacy`).
The version documents at /v2 and /v2/ are `versions.py`'s.

Where we differ from Nova's mode: request bodies are validated as strictly as at v2.1
(Nova ignores unknown properties there), and links in response bodies name /v2.1/
(they are followable there; Nova builds them from the request's URL).
"""

from __future__ import annotations

import dataclasses

from stackbox.api.framework import Router

PREFIX = "/v2"
_SOURCE = "/v2.1/"


def is_legacy(path: str) -> bool:
    """Whether a route path (without the /compute prefix) is on the legacy mount."""
    return path == PREFIX or path.startswith(PREFIX + "/")


def mount(router: Router) -> None:
    """Serve every /v2.1/... route of `router` at /v2/... too (the paths the router
    already has there, the version documents, are left alone). Run once, after every
    resource module has registered."""
    taken = {(spec.method, spec.path) for spec in router.specs}
    for spec in list(router.specs):
        if not spec.path.startswith(_SOURCE) or spec.path == _SOURCE:
            continue
        path = PREFIX + spec.path.removeprefix("/v2.1")
        if (spec.method, path) not in taken:
            router.specs.append(dataclasses.replace(spec, path=path))
