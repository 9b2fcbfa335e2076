"""OS-OAUTH1 consumers: `/v3/OS-OAUTH1/consumers[/{consumer_id}]` create, list, show,
update, delete. The secret is generated at creation, shown once, stored encrypted and
cannot be updated. Only consumer management is here: the OAuth1 request-token /
access-token flow is not built.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from stackbox.api import errors
from stackbox.api.framework import Req, Router
from stackbox.identity import secrets
from stackbox.identity.api.common import extras, get_or_404, links_for, v3_url
from stackbox.identity.models_extra import OAuthConsumer

_PROPS = {"description": {"type": ["string", "null"]}}
CREATE_SCHEMA = {
    "type": "object",
    "properties": {"consumer": {"type": "object", "properties": _PROPS}},
}
UPDATE_SCHEMA = {
    "type": "object",
    "required": ["consumer"],
    "properties": {
        "consumer": {
            "type": "object",
            "properties": _PROPS,
            "not": {"required": ["secret"]},
            "minProperties": 1,
        }
    },
}
BASE = "/v3/OS-OAUTH1/consumers"


def view(req: Req, c: OAuthConsumer) -> dict:
    out = dict(c.extra or {})
    out.update(
        id=c.id,
        description=c.description,
        links={"self": v3_url(req, f"/OS-OAUTH1/consumers/{c.id}")},
    )
    return out


def _load(req: Req, action: str) -> OAuthConsumer:
    req.authorize(action)
    return get_or_404(req, OAuthConsumer, "consumer", req.params["consumer_id"])


def register(router: Router) -> None:
    @router.route("POST", BASE, status=201, schema=CREATE_SCHEMA)
    def create_consumer(req: Req) -> dict:
        req.authorize("identity:create_consumer")
        data = (req.body or {}).get("consumer") or {}
        secret = uuid.uuid4().hex
        c = OAuthConsumer(
            description=data.get("description"),
            encrypted_secret=secrets.box_for(req.state.cfg).encrypt(secret),
            extra=extras(data, ("description", "secret")),
        )
        req.db.add(c)
        req.db.flush()
        return {"consumer": {**view(req, c), "secret": secret}}

    @router.route("GET", BASE)
    def list_consumers(req: Req) -> dict:
        req.authorize("identity:list_consumers")
        rows = req.db.scalars(select(OAuthConsumer).order_by(OAuthConsumer.id))
        return {
            "consumers": [view(req, c) for c in rows],
            "links": links_for(req, "/OS-OAUTH1/consumers"),
        }

    @router.route("GET", BASE + "/{consumer_id}")
    def get_consumer(req: Req) -> dict:
        return {"consumer": view(req, _load(req, "identity:get_consumer"))}

    @router.route("PATCH", BASE + "/{consumer_id}", schema=UPDATE_SCHEMA)
    def update_consumer(req: Req) -> dict:
        c = _load(req, "identity:update_consumer")
        data = req.body["consumer"]
        if "id" in data and data["id"] != c.id:
            raise errors.BadRequest("Cannot change consumer ID")
        if "description" in data:
            c.description = data["description"]
        more = extras(data, ("description",))
        if more:
            c.extra = {**(c.extra or {}), **more}
        return {"consumer": view(req, c)}

    @router.route("DELETE", BASE + "/{consumer_id}")
    def delete_consumer(req: Req) -> None:
        req.db.delete(_load(req, "identity:delete_consumer"))
