"""Default policy rules of the Identity API, as Keystone's defaults evaluate when new
and deprecated defaults are both accepted (its default configuration): admins anywhere,
system readers read everything, domain readers read their domain, users read and
manage what is their own."""

ADMIN = "role:admin"
SYSTEM_READER = "(role:reader and system_scope:all)"
ADMIN_OR_SYSTEM_READER = f"{ADMIN} or {SYSTEM_READER}"


def _domain_reader(path: str) -> str:
    return f"(role:reader and domain_id:%(target.{path})s)"


OWNER = "user_id:%(target.user.id)s"

RULES: dict[str, str] = {
    "admin_required": ADMIN,
    "service_role": "role:service",
    "owner": "user_id:%(user_id)s",
    "token_subject": "user_id:%(target.token.user_id)s",
    # auth
    "identity:get_auth_catalog": "",
    "identity:get_auth_projects": "",
    "identity:get_auth_domains": "",
    "identity:get_auth_system": "",
    "identity:validate_token": f"{ADMIN_OR_SYSTEM_READER} or rule:service_role or "
    "rule:token_subject",
    "identity:check_token": f"{ADMIN_OR_SYSTEM_READER} or rule:service_role or rule:token_subject",
    "identity:revoke_token": f"{ADMIN} or rule:service_role or rule:token_subject",
    # domains
    "identity:get_domain": f"{ADMIN_OR_SYSTEM_READER} or domain_id:%(target.domain.id)s or "
    "project_domain_id:%(target.domain.id)s",
    "identity:list_domains": ADMIN_OR_SYSTEM_READER,
    "identity:create_domain": ADMIN,
    "identity:update_domain": ADMIN,
    "identity:delete_domain": ADMIN,
    # projects
    "identity:get_project": f"{ADMIN_OR_SYSTEM_READER} or "
    f"{_domain_reader('project.domain_id')} or "
    "project_id:%(target.project.id)s",
    "identity:list_projects": f"{ADMIN_OR_SYSTEM_READER} or {_domain_reader('domain_id')}",
    "identity:list_user_projects": f"{ADMIN_OR_SYSTEM_READER} or "
    f"{_domain_reader('user.domain_id')} or {OWNER}",
    "identity:create_project": ADMIN,
    "identity:update_project": ADMIN,
    "identity:delete_project": ADMIN,
    "identity:list_project_tags": f"{ADMIN_OR_SYSTEM_READER} or project_id:%(target.project.id)s",
    "identity:update_project_tags": ADMIN,
    # users
    "identity:get_user": f"{ADMIN_OR_SYSTEM_READER} or {_domain_reader('user.domain_id')} "
    f"or {OWNER}",
    "identity:list_users": f"{ADMIN_OR_SYSTEM_READER} or {_domain_reader('domain_id')}",
    "identity:create_user": ADMIN,
    "identity:update_user": ADMIN,
    "identity:delete_user": ADMIN,
    "identity:list_groups_for_user": f"{ADMIN_OR_SYSTEM_READER} or "
    f"{_domain_reader('user.domain_id')} or {OWNER}",
    # groups
    "identity:get_group": f"{ADMIN_OR_SYSTEM_READER} or {_domain_reader('group.domain_id')}",
    "identity:list_groups": f"{ADMIN_OR_SYSTEM_READER} or {_domain_reader('domain_id')}",
    "identity:create_group": ADMIN,
    "identity:update_group": ADMIN,
    "identity:delete_group": ADMIN,
    "identity:list_users_in_group": f"{ADMIN_OR_SYSTEM_READER} or "
    f"{_domain_reader('group.domain_id')}",
    "identity:check_user_in_group": f"{ADMIN_OR_SYSTEM_READER} or "
    f"{_domain_reader('group.domain_id')}",
    "identity:add_user_to_group": ADMIN,
    "identity:remove_user_from_group": ADMIN,
    # roles and assignments
    "identity:get_role": f"{ADMIN_OR_SYSTEM_READER} or role:reader",
    "identity:list_roles": f"{ADMIN_OR_SYSTEM_READER} or {_domain_reader('domain_id')}",
    "identity:create_role": ADMIN,
    "identity:update_role": ADMIN,
    "identity:delete_role": ADMIN,
    "identity:check_grant": ADMIN_OR_SYSTEM_READER,
    "identity:list_grants": ADMIN_OR_SYSTEM_READER,
    "identity:create_grant": ADMIN,
    "identity:revoke_grant": ADMIN,
    "identity:list_role_assignments": f"{ADMIN_OR_SYSTEM_READER} or {_domain_reader('domain_id')}",
    # catalog
    "identity:get_region": "",
    "identity:list_regions": "",
    "identity:create_region": ADMIN,
    "identity:update_region": ADMIN,
    "identity:delete_region": ADMIN,
    "identity:get_service": ADMIN_OR_SYSTEM_READER,
    "identity:list_services": ADMIN_OR_SYSTEM_READER,
    "identity:create_service": ADMIN,
    "identity:update_service": ADMIN,
    "identity:delete_service": ADMIN,
    "identity:get_endpoint": ADMIN_OR_SYSTEM_READER,
    "identity:list_endpoints": ADMIN_OR_SYSTEM_READER,
    "identity:create_endpoint": ADMIN,
    "identity:update_endpoint": ADMIN,
    "identity:delete_endpoint": ADMIN,
}

# Rules the first list lacks (Keystone's defaults for them).
RULES.update(
    {
        "identity:get_project_tag": f"{ADMIN_OR_SYSTEM_READER} or "
        f"{_domain_reader('project.domain_id')} or "
        "project_id:%(target.project.id)s",
        "identity:create_project_tag": ADMIN,
        "identity:delete_project_tag": ADMIN,
        "identity:delete_project_tags": ADMIN,
        "identity:list_role_assignments_for_tree": f"{ADMIN_OR_SYSTEM_READER} or "
        f"{_domain_reader('project.domain_id')}",
        "identity:list_system_grants_for_user": ADMIN_OR_SYSTEM_READER,
        "identity:check_system_grant_for_user": ADMIN_OR_SYSTEM_READER,
        "identity:create_system_grant_for_user": ADMIN,
        "identity:revoke_system_grant_for_user": ADMIN,
        "identity:list_system_grants_for_group": ADMIN_OR_SYSTEM_READER,
        "identity:check_system_grant_for_group": ADMIN_OR_SYSTEM_READER,
        "identity:create_system_grant_for_group": ADMIN,
        "identity:revoke_system_grant_for_group": ADMIN,
    }
)

# Implied roles, application credentials and access rules (Keystone's defaults).
APP_CRED_OWNER = "user_id:%(user_id)s"
ACCESS_RULE_OWNER = "user_id:%(target.user.id)s"
RULES.update(
    {
        "identity:get_implied_role": ADMIN_OR_SYSTEM_READER,
        "identity:list_implied_roles": ADMIN_OR_SYSTEM_READER,
        "identity:list_role_inference_rules": ADMIN_OR_SYSTEM_READER,
        "identity:check_implied_role": ADMIN_OR_SYSTEM_READER,
        "identity:create_implied_role": ADMIN,
        "identity:delete_implied_role": ADMIN,
        "identity:get_application_credential": f"{ADMIN_OR_SYSTEM_READER} or {APP_CRED_OWNER}",
        "identity:list_application_credentials": f"{ADMIN_OR_SYSTEM_READER} or {APP_CRED_OWNER}",
        "identity:create_application_credential": APP_CRED_OWNER,
        "identity:delete_application_credential": f"{ADMIN} or {APP_CRED_OWNER}",
        "identity:get_access_rule": f"{SYSTEM_READER} or {ACCESS_RULE_OWNER}",
        "identity:list_access_rules": f"{SYSTEM_READER} or {ACCESS_RULE_OWNER}",
        "identity:delete_access_rule": f"(role:admin and system_scope:all) or {ACCESS_RULE_OWNER}",
    }
)
