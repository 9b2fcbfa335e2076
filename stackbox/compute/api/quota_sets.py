"""os-quota-sets: GET /v2.1/os-quota-sets/{project} (?user_id=), .../defaults, .../detail
(in_use / limit / reserved), PUT (admin; `force`; a limit below usage is 400 unless
forced), DELETE (back to the defaults).

Shapes by microversion, as Nova: 2.36 drops the network quotas (fixed_ips, floating_ips,
security_groups, security_group_rules), 2.57 drops the injected-file quotas. The limits
and usage come from `stackbox/compute/quotas.py`.
"""

from __future__ import annotations

from typing import Any

from stackbox.api import errors
from stackbox.api.framework import Req, Router, validate
from stackbox.compute import quotas
from stackbox.compute.api import common
from stackbox.compute.api.microversion import Version, pick, version

LIMIT = {
    "type": ["integer", "string"],
    "pattern": r"^-?[0-9]{1,10}$",  # the digits of an int32; more would make int() raise
    "minimum": -1,
    "maximum": 0x7FFFFFFF,
}


def shown(mv: Version, *, classes: bool = False) -> tuple[str, ...]:
    """The resources a response of microversion `mv` lists."""
    names = list(quotas.RESOURCES)
    network_gone = mv >= (2, 50) if classes else mv >= (2, 36)
    if network_gone:
        names = [n for n in names if n not in quotas.NETWORK]
    if mv >= (2, 57):
        names = [n for n in names if n not in quotas.FILES]
    if classes and mv < (2, 50):
        names = [n for n in names if n not in ("server_groups", "server_group_members")]
    return tuple(sorted(names))


def build_update_schema(mv: Version, key: str, *, force: bool, classes: bool = False) -> dict:
    """The PUT schema of microversion `mv` (quota sets, or classes); at import only."""
    props: dict[str, Any] = {name: LIMIT for name in shown(mv, classes=classes)}
    if force:
        props["force"] = {
            "type": ["boolean", "string"],
            "enum": [True, False, "True", "False", "true", "false"],
        }
    return {
        "type": "object",
        "properties": {key: {"type": "object", "properties": props, "additionalProperties": False}},
        "required": [key],
        "additionalProperties": False,
    }


# Where the listed resources change (`shown`); one constant per range.
SET_SINCE: tuple[Version, ...] = ((2, 1), (2, 36), (2, 57))
CLASS_SINCE: tuple[Version, ...] = ((2, 1), (2, 50), (2, 57))
SET_SCHEMAS = tuple((v, build_update_schema(v, "quota_set", force=True)) for v in SET_SINCE)
CLASS_SCHEMAS = tuple(
    (v, build_update_schema(v, "quota_class_set", force=False, classes=True)) for v in CLASS_SINCE
)


def _user(req: Req) -> str | None:
    return req.query.get("user_id") or None


def _check_query(req: Req) -> None:
    if version(req) >= (2, 75):
        common.reject_unknown_query(req, {"user_id"})


def _view(values: dict[str, Any], mv: Version) -> dict[str, Any]:
    return {name: values[name] for name in shown(mv)}


def _detail(req: Req, project_id: str, user_id: str | None) -> dict[str, Any]:
    s = req.db
    lim = quotas.limits(s, project_id, user_id, req.state.cfg)
    used = quotas.usage(s, project_id, user_id)
    if not user_id:
        used["key_pairs"] = 0  # key pairs belong to users (Nova shows 0 per project)
    return {
        name: {"in_use": used.get(name, 0), "limit": lim[name], "reserved": 0}
        for name in shown(version(req))
    }


def register(router: Router) -> None:
    @router.route("GET", "/v2.1/os-quota-sets/{project_id}/defaults")
    def defaults(req: Req) -> dict:
        project_id = req.params["project_id"]
        req.authorize("os_compute_api:os-quota-sets:defaults", {"project_id": project_id})
        values = quotas.class_limits(req.db, quotas.DEFAULT_CLASS, req.state.cfg)
        return {"quota_set": {"id": project_id, **_view(values, version(req))}}

    @router.route("GET", "/v2.1/os-quota-sets/{project_id}/detail")
    def detail(req: Req) -> dict:
        _check_query(req)
        project_id = req.params["project_id"]
        req.authorize("os_compute_api:os-quota-sets:detail", {"project_id": project_id})
        return {"quota_set": {"id": project_id, **_detail(req, project_id, _user(req))}}

    @router.route("GET", "/v2.1/os-quota-sets/{project_id}")
    def show(req: Req) -> dict:
        _check_query(req)
        project_id = req.params["project_id"]
        req.authorize("os_compute_api:os-quota-sets:show", {"project_id": project_id})
        values = quotas.limits(req.db, project_id, _user(req), req.state.cfg)
        return {"quota_set": {"id": project_id, **_view(values, version(req))}}

    @router.route("PUT", "/v2.1/os-quota-sets/{project_id}")
    def update(req: Req) -> dict:
        _check_query(req)
        project_id = req.params["project_id"]
        req.authorize("os_compute_api:os-quota-sets:update", {"project_id": project_id})
        mv = version(req)
        validate(pick(SET_SCHEMAS, mv), req.body)
        body = dict(req.body["quota_set"])
        force = str(body.pop("force", False)).lower() == "true"
        values = {k: int(v) for k, v in body.items()}
        user_id = _user(req)
        s = req.db
        if values and not force:
            quotas.lock(s, project_id)
            used = quotas.usage(s, project_id, user_id)
            project_limits = quotas.limits(s, project_id, None, req.state.cfg)
            for name, value in sorted(values.items()):
                minimum = used.get(name, 0) if name in quotas.COUNTED else 0
                if value != -1 and value < minimum:
                    raise errors.BadRequest(
                        f"Quota limit {value} for {name} must be greater than or equal to "
                        f"already used and reserved {minimum}."
                    )
                top = project_limits[name]
                if user_id and top != -1 and (value == -1 or value > top):
                    raise errors.BadRequest(
                        f"Quota limit {value} for {name} must be less than or equal to {top}."
                    )
        quotas.set_limits(s, project_id, user_id or "", values)
        return {"quota_set": _view(quotas.limits(s, project_id, user_id, req.state.cfg), mv)}

    @router.route("DELETE", "/v2.1/os-quota-sets/{project_id}")
    def delete(req: Req) -> tuple[None, int]:
        _check_query(req)
        project_id = req.params["project_id"]
        req.authorize("os_compute_api:os-quota-sets:delete", {"project_id": project_id})
        quotas.delete_limits(req.db, project_id, _user(req))
        return None, 202
