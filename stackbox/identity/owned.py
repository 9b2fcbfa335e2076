"""The rows of `models_extra` that belong to a user or a project and go with it, as
Keystone removes them: a deleted user's credentials and trusts (as trustor or trustee),
a deleted project's credentials and endpoint-group associations (its trusts stay, as
in Keystone, and give no token: the project is gone)."""

from __future__ import annotations

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from stackbox.identity.models_extra import Credential, ProjectEndpointGroup, Trust


def purge_for_users(s: Session, ids: list[str]) -> None:
    s.execute(delete(Credential).where(Credential.user_id.in_(ids)))
    s.execute(
        delete(Trust).where(or_(Trust.trustor_user_id.in_(ids), Trust.trustee_user_id.in_(ids)))
    )


def purge_for_projects(s: Session, ids: list[str]) -> None:
    s.execute(delete(Credential).where(Credential.project_id.in_(ids)))
    s.execute(delete(ProjectEndpointGroup).where(ProjectEndpointGroup.project_id.in_(ids)))
