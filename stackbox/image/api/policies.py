"""Default policy rules of the Image API, as Glance's current defaults (secure RBAC):
admins do anything; project members manage their project's images; readers read what
they can see; only admins publicize. Targets carry `project_id` (the image's owner),
`member_id` (the caller's project when it is one of the image's members).

Visibility itself (who sees which image at all) is enforced by the queries in
`common.py`; these rules decide what a caller may do with an image it can see."""

ADMIN = "role:admin"
OWNER_MEMBER = f"{ADMIN} or (role:member and project_id:%(project_id)s)"
READER = f"{ADMIN} or role:reader"

RULES: dict[str, str] = {
    "context_is_admin": ADMIN,
    "add_image": OWNER_MEMBER,
    "delete_image": OWNER_MEMBER,
    "get_image": READER,
    "get_images": READER,
    "modify_image": OWNER_MEMBER,
    "publicize_image": ADMIN,
    "communitize_image": OWNER_MEMBER,
    "download_image": READER,
    "upload_image": OWNER_MEMBER,
    "deactivate": OWNER_MEMBER,
    "reactivate": OWNER_MEMBER,
    "add_member": OWNER_MEMBER,
    "delete_member": OWNER_MEMBER,
    "get_member": f"{ADMIN} or (role:reader and (project_id:%(project_id)s or "
    "project_id:%(member_id)s))",
    "get_members": f"{ADMIN} or (role:reader and (project_id:%(project_id)s or "
    "project_id:%(member_id)s))",
    "modify_member": f"{ADMIN} or (role:member and project_id:%(member_id)s)",
    "add_tag": OWNER_MEMBER,
    "delete_tag": OWNER_MEMBER,
    "stores_info_detail": ADMIN,
    # The tasks API (/v2/tasks…); an image's own tasks (/v2/images/{id}/tasks) follow
    # get_image, as in Glance.
    "tasks_api_access": ADMIN,
}
