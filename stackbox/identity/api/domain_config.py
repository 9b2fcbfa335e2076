"""Domain-specific configuration: `/v3/domains/{domain_id}/config[/{group}[/{option}]]`
(PUT the whole config, GET/HEAD, PATCH, DELETE at each level) and the defaults at
`/v3/domains/config[/{group}[/{option}]]/default`.

Only the `identity` and `ldap` groups and the options Keystone whitelists are accepted
(anything else is 403, Keystone's InvalidDomainConfig); `ldap.password` is sensitive:
stored, never shown. stackbox keeps every domain's users in its own database: the
config is stored and served as Keystone does, and no LDAP backend reads it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from starlette.responses import JSONResponse, Response

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.identity.api.common import not_found
from stackbox.identity.models import Domain
from stackbox.identity.models_extra import DomainConfigOption

# Keystone's defaults for the whitelisted options (its [identity] and [ldap] options).
_LDAP_DEFAULTS: dict[str, Any] = {
    "url": "ldap://localhost",
    "user": None,
    "suffix": "cn=example,cn=com",
    "query_scope": "one",
    "page_size": 0,
    "alias_dereferencing": "default",
    "debug_level": None,
    "chase_referrals": None,
    "user_tree_dn": None,
    "user_filter": None,
    "user_objectclass": "inetOrgPerson",
    "user_id_attribute": "cn",
    "user_name_attribute": "sn",
    "user_mail_attribute": "mail",
    "user_description_attribute": "description",
    "user_pass_attribute": "userPassword",
    "user_enabled_attribute": "enabled",
    "user_enabled_invert": False,
    "user_enabled_mask": 0,
    "user_enabled_default": "True",
    "user_attribute_ignore": ["default_project_id"],
    "user_default_project_id_attribute": None,
    "user_enabled_emulation": False,
    "user_enabled_emulation_dn": None,
    "user_enabled_emulation_use_group_config": False,
    "user_additional_attribute_mapping": [],
    "group_tree_dn": None,
    "group_filter": None,
    "group_objectclass": "groupOfNames",
    "group_id_attribute": "cn",
    "group_name_attribute": "ou",
    "group_members_are_ids": False,
    "group_member_attribute": "member",
    "group_desc_attribute": "description",
    "group_attribute_ignore": [],
    "group_additional_attribute_mapping": [],
    "tls_cacertfile": None,
    "tls_cacertdir": None,
    "use_tls": False,
    "tls_req_cert": "demand",
    "use_pool": True,
    "pool_size": 10,
    "pool_retry_max": 3,
    "pool_retry_delay": 0.1,
    "pool_connection_timeout": -1,
    "pool_connection_lifetime": 600,
    "use_auth_pool": True,
    "auth_pool_size": 100,
    "auth_pool_connection_lifetime": 60,
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "identity": {"driver": "sql", "list_limit": None},
    "ldap": _LDAP_DEFAULTS,
}
SENSITIVE: dict[str, tuple[str, ...]] = {"identity": (), "ldap": ("password",)}
BODY_SCHEMA = {"type": "object", "required": ["config"], "properties": {"config": {}}}


def _invalid(reason: str) -> errors.Forbidden:
    return errors.Forbidden(f"Invalid domain specific configuration: {reason}.")


def check_option(group: str | None, option: str | None) -> None:
    if group is None:
        return
    if group not in DEFAULTS:
        raise _invalid(f"Group {group} is not supported for domain specific configurations")
    if option is not None and option not in DEFAULTS[group] and option not in SENSITIVE[group]:
        raise _invalid(
            f"Option {option} in group {group} is not supported for domain specific configurations"
        )


def check_config(config: Any) -> None:
    if not config or not isinstance(config, dict):
        raise _invalid("No options specified")
    for group, options in config.items():
        if not options or not isinstance(options, dict):
            raise _invalid(
                f"The value of group {group} specified in the config should be a "
                "dictionary of options"
            )
        for option in options:
            check_option(group, option)


def _missing(domain_id: str, group: str | None, option: str | None) -> errors.NotFound:
    what = (
        f"option {option} in group {group}"
        if option
        else f"group {group}"
        if group
        else "any options"
    )
    return errors.NotFound(f"Could not find {what} in domain configuration for domain {domain_id}.")


def _rows(req: Req, domain_id: str, group: str | None = None, option: str | None = None) -> Any:
    q = select(DomainConfigOption).where(DomainConfigOption.domain_id == domain_id)
    if group is not None:
        q = q.where(DomainConfigOption.group == group)
    if option is not None:
        q = q.where(DomainConfigOption.option == option)
    return list(req.db.scalars(q.order_by(DomainConfigOption.group, DomainConfigOption.option)))


def shown(rows: list[DomainConfigOption]) -> dict:
    out: dict[str, dict] = {}
    for r in rows:
        if not r.sensitive:
            out.setdefault(r.group, {})[r.option] = r.value
    return out


def write(req: Req, domain_id: str, config: dict) -> None:
    """Insert or replace the options of `config` (already checked)."""
    for group, options in config.items():
        for option, value in options.items():
            row = req.db.get(DomainConfigOption, (domain_id, group, option))
            if row is None:
                row = DomainConfigOption(domain_id=domain_id, group=group, option=option)
                req.db.add(row)
            row.value = value
            row.sensitive = option in SENSITIVE[group]
    req.db.flush()


def _domain(req: Req) -> str:
    did = req.params["domain_id"]
    if req.db.get(Domain, did) is None:
        raise not_found("domain", did)
    return did


def _path(req: Req) -> tuple[str | None, str | None]:
    return req.params.get("group"), req.params.get("option")


def _show(req: Req) -> dict:
    did = req.params["domain_id"]
    exists = req.db.get(Domain, did) is not None
    req.authorize("identity:get_domain_config")
    if not exists:
        raise not_found("domain", did)
    group, option = _path(req)
    check_option(group, option)
    config = shown(_rows(req, did, group, option))
    if not config:
        raise _missing(did, group, option)
    if option is not None:
        return {"config": config[group]}
    return {"config": config}


def _update(req: Req) -> dict:
    req.authorize("identity:update_domain_config")
    did = _domain(req)
    group, option = _path(req)
    config = req.body["config"]
    if group is not None and option is not None:
        config = {group: config}
    check_config(config)
    check_option(group, option)
    if group is not None:
        if len(config) != 1 or (option is not None and len(config.get(group) or {}) != 1):
            what = f"option {option} in group {group}" if option else f"group {group}"
            raise _invalid(f"Trying to update {what}, so that, and only that, must be specified")
        if group not in config or (option is not None and option not in config[group]):
            raise _invalid(f"the config provided does not match the {group} of the request path")
        if not _rows(req, did, group, option):
            raise _missing(did, group, option)
    write(req, did, config)
    return {"config": shown(_rows(req, did))}


def _delete(req: Req) -> None:
    req.authorize("identity:delete_domain_config")
    did = _domain(req)
    group, option = _path(req)
    check_option(group, option)
    if group is not None and not _rows(req, did, group, option):
        raise _missing(did, group, option)
    q = delete(DomainConfigOption).where(DomainConfigOption.domain_id == did)
    if group is not None:
        q = q.where(DomainConfigOption.group == group)
    if option is not None:
        q = q.where(DomainConfigOption.option == option)
    req.db.execute(q)


def _default(req: Req) -> dict:
    req.authorize("identity:get_domain_config_default")
    group, option = _path(req)
    check_option(group, option)
    if option is not None:
        if option not in DEFAULTS[group or ""]:
            raise _invalid(
                f"Reading the default for option {option} in group {group} is not supported"
            )
        return {"config": {option: DEFAULTS[group or ""][option]}}
    if group is not None:
        return {"config": {group: dict(DEFAULTS[group])}}
    return {"config": {g: dict(opts) for g, opts in DEFAULTS.items()}}


def register(router: Router) -> None:
    base = "/v3/domains/{domain_id}/config"

    @router.route("PUT", base, schema=BODY_SCHEMA)
    def create_config(req: Req) -> Response:
        req.authorize("identity:create_domain_config")
        did = _domain(req)
        config = req.body["config"]
        check_config(config)
        old = _rows(req, did)
        for row in old:
            req.db.delete(row)
        req.db.flush()
        write(req, did, config)
        body = {"config": shown(_rows(req, did))}
        return JSONResponse(body, status_code=200 if old else 201)

    for path in (base, base + "/{group}", base + "/{group}/{option}"):
        router.route("GET", path)(_show)
        router.route("PATCH", path, schema=BODY_SCHEMA)(_update)
        router.route("DELETE", path)(_delete)
    for path in (
        "/v3/domains/config/default",
        "/v3/domains/config/{group}/default",
        "/v3/domains/config/{group}/{option}/default",
    ):
        router.route("GET", path)(_default)
