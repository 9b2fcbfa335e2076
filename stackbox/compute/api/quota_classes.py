"""os-quota-class-sets: GET/PUT /v2.1/os-quota-class-sets/{class}. The class "default"
is what projects without their own limits fall back to (before the [quota] config).

Shapes by microversion, as Nova: before 2.50 the network quotas are listed and the
server-group quotas are not; 2.57 drops the injected-file quotas."""

from __future__ import annotations

from stackbox.api.framework import Req, Router, validate
from stackbox.compute import quotas
from stackbox.compute.api.microversion import pick, version
from stackbox.compute.api.quota_sets import CLASS_SCHEMAS, shown


def register(router: Router) -> None:
    @router.route("GET", "/v2.1/os-quota-class-sets/{class_name}")
    def show(req: Req) -> dict:
        name = req.params["class_name"]
        req.authorize("os_compute_api:os-quota-class-sets:show", {})
        values = quotas.class_limits(req.db, name, req.state.cfg)
        fields = shown(version(req), classes=True)
        return {"quota_class_set": {"id": name, **{f: values[f] for f in fields}}}

    @router.route("PUT", "/v2.1/os-quota-class-sets/{class_name}")
    def update(req: Req) -> dict:
        name = req.params["class_name"]
        req.authorize("os_compute_api:os-quota-class-sets:update", {})
        mv = version(req)
        validate(pick(CLASS_SCHEMAS, mv), req.body)
        values = {k: int(v) for k, v in req.body["quota_class_set"].items()}
        quotas.set_class(req.db, name, values)
        current = quotas.class_limits(req.db, name, req.state.cfg)
        return {"quota_class_set": {f: current[f] for f in shown(mv, classes=True)}}
