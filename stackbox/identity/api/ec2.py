"""OS-EC2: `/v3/users/{user_id}/credentials/OS-EC2[/{access}]`: create, list, show, delete.

An EC2 credential is an `ec2` row of /v3/credentials (see `credentials`): a random
access key and secret for one project, found by the SHA-256 of its access key. Created
through a trust-scoped token it carries the trust's id. Members manage their own;
admins manage anyone's.
"""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.identity import secrets
from stackbox.identity.api import credentials
from stackbox.identity.api.common import get_or_404, not_found, v3_url
from stackbox.identity.models import Project, User
from stackbox.identity.models_extra import Credential

CREATE_SCHEMA = {
    "type": "object",
    "required": ["tenant_id"],
    "properties": {"tenant_id": {"type": "string"}},
}


def view(req: Req, c: Credential) -> dict:
    blob = json.loads(secrets.box_for(req.state.cfg).decrypt(c.encrypted_blob))
    return {
        "user_id": c.user_id,
        "tenant_id": c.project_id,
        "access": blob.get("access"),
        "secret": blob.get("secret"),
        "trust_id": blob.get("trust_id"),
        "links": {
            "self": v3_url(req, f"/users/{c.user_id}/credentials/OS-EC2/{blob.get('access')}")
        },
    }


def _user(req: Req) -> User:
    return get_or_404(req, User, "user", req.params["user_id"])


def _load(req: Req, action: str) -> Credential:
    """The path's EC2 credential after the policy check on its owner."""
    access = req.params["access"]
    c = req.db.get(Credential, credentials.access_hash(access))
    if c is None or c.type != credentials.EC2 or c.user_id != req.params["user_id"]:
        raise not_found("credential", credentials.access_hash(access))
    req.authorize(action, {"target": {"credential": {"user_id": c.user_id}}})
    _user(req)
    return c


def register(router: Router) -> None:
    base = "/v3/users/{user_id}/credentials/OS-EC2"

    @router.route("POST", base, status=201, schema=CREATE_SCHEMA)
    def create_ec2(req: Req) -> dict:
        uid = req.params["user_id"]
        req.authorize(
            "identity:ec2_create_credential", {"target": {"credential": {"user_id": uid}}}
        )
        _user(req)
        tenant_id = req.body["tenant_id"]
        if req.db.get(Project, tenant_id) is None:
            raise not_found("project", tenant_id)
        trust_id = req.context.extra.get("trust_id")
        if trust_id and tenant_id != req.context.project_id:
            raise errors.Forbidden(
                "EC2 credential project does not match the project scope of the delegated token"
            )
        blob = {"access": uuid.uuid4().hex, "secret": uuid.uuid4().hex, "trust_id": trust_id}
        data = {
            "user_id": uid,
            "project_id": tenant_id,
            "type": credentials.EC2,
            "blob": json.dumps(blob),
        }
        return {"credential": view(req, credentials.create(req, data))}

    @router.route("GET", base)
    def list_ec2(req: Req) -> dict:
        uid = req.params["user_id"]
        req.authorize("identity:ec2_list_credentials", {"user_id": uid})
        _user(req)
        q = select(Credential).where(Credential.user_id == uid, Credential.type == credentials.EC2)
        rows = req.db.scalars(q.order_by(Credential.created_at, Credential.id))
        return {
            "credentials": [view(req, c) for c in rows],
            "links": {
                "self": v3_url(req, f"/users/{uid}/credentials/OS-EC2"),
                "next": None,
                "previous": None,
            },
        }

    @router.route("GET", base + "/{access}")
    def get_ec2(req: Req) -> dict:
        return {"credential": view(req, _load(req, "identity:ec2_get_credential"))}

    @router.route("DELETE", base + "/{access}")
    def delete_ec2(req: Req) -> None:
        req.db.delete(_load(req, "identity:ec2_delete_credential"))
