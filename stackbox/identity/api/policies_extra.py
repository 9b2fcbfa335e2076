"""Default policy rules of the identity APIs in `models_extra` (credentials, EC2
credentials, v3 policies, domain configuration, endpoint groups, OAuth1 consumers,
trusts), as Keystone's defaults evaluate in its default configuration."""

from stackbox.identity.api.policies import ADMIN, ADMIN_OR_SYSTEM_READER, SYSTEM_READER

CRED_OWNER = "user_id:%(target.credential.user_id)s"
TRUSTOR = "user_id:%(target.trust.trustor_user_id)s"
TRUSTEE = "user_id:%(target.trust.trustee_user_id)s"

RULES: dict[str, str] = {
    # credentials
    "identity:get_credential": f"{ADMIN_OR_SYSTEM_READER} or {CRED_OWNER}",
    "identity:list_credentials": f"{ADMIN_OR_SYSTEM_READER} or {CRED_OWNER}",
    "identity:create_credential": f"{ADMIN} or {CRED_OWNER}",
    "identity:update_credential": f"{ADMIN} or {CRED_OWNER}",
    "identity:delete_credential": f"{ADMIN} or {CRED_OWNER}",
    # EC2 credentials (OS-EC2)
    "identity:ec2_get_credential": f"{ADMIN_OR_SYSTEM_READER} or {CRED_OWNER}",
    "identity:ec2_list_credentials": f"{ADMIN_OR_SYSTEM_READER} or rule:owner",
    "identity:ec2_create_credential": f"{ADMIN} or (role:member and {CRED_OWNER})",
    "identity:ec2_delete_credential": f"{ADMIN} or (role:member and {CRED_OWNER})",
    # v3 policies
    "identity:get_policy": ADMIN_OR_SYSTEM_READER,
    "identity:list_policies": ADMIN_OR_SYSTEM_READER,
    "identity:create_policy": ADMIN,
    "identity:update_policy": ADMIN,
    "identity:delete_policy": ADMIN,
    # domain configuration
    "identity:get_domain_config": ADMIN_OR_SYSTEM_READER,
    "identity:get_domain_config_default": ADMIN_OR_SYSTEM_READER,
    "identity:create_domain_config": ADMIN,
    "identity:update_domain_config": ADMIN,
    "identity:delete_domain_config": ADMIN,
    # endpoint groups (OS-EP-FILTER)
    "identity:list_endpoint_groups": ADMIN_OR_SYSTEM_READER,
    "identity:get_endpoint_group": ADMIN_OR_SYSTEM_READER,
    "identity:create_endpoint_group": ADMIN,
    "identity:update_endpoint_group": ADMIN,
    "identity:delete_endpoint_group": ADMIN,
    "identity:list_projects_associated_with_endpoint_group": ADMIN_OR_SYSTEM_READER,
    "identity:list_endpoints_associated_with_endpoint_group": ADMIN_OR_SYSTEM_READER,
    "identity:get_endpoint_group_in_project": ADMIN_OR_SYSTEM_READER,
    "identity:list_endpoint_groups_for_project": ADMIN_OR_SYSTEM_READER,
    "identity:add_endpoint_group_to_project": ADMIN,
    "identity:remove_endpoint_group_from_project": ADMIN,
    # OAuth1 consumers
    "identity:get_consumer": ADMIN_OR_SYSTEM_READER,
    "identity:list_consumers": ADMIN_OR_SYSTEM_READER,
    "identity:create_consumer": ADMIN,
    "identity:update_consumer": ADMIN,
    "identity:delete_consumer": ADMIN,
    # trusts (OS-TRUST)
    "identity:create_trust": TRUSTOR,
    "identity:list_trusts": ADMIN_OR_SYSTEM_READER,
    "identity:list_trusts_for_trustor": f"{ADMIN} or ({SYSTEM_READER} or {TRUSTOR})",
    "identity:list_trusts_for_trustee": f"{ADMIN} or ({SYSTEM_READER} or {TRUSTEE})",
    "identity:get_trust": f"{ADMIN} or ({SYSTEM_READER} or {TRUSTOR} or {TRUSTEE})",
    "identity:list_roles_for_trust": f"{ADMIN} or ({SYSTEM_READER} or {TRUSTOR} or {TRUSTEE})",
    "identity:get_role_for_trust": f"{ADMIN} or ({SYSTEM_READER} or {TRUSTOR} or {TRUSTEE})",
    "identity:delete_trust": f"{ADMIN} or {TRUSTOR}",
}
