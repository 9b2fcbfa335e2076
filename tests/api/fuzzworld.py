"""The cloud the API fuzz test attacks: every router in-process (SQLite or PostgreSQL)
on a started local bus, with three principals -- the admin, project A's member (the
bootstrap "demo" user) and project B's member (made through the identity API) -- and
resources owned by project A, made through the APIs: a server, a key pair, a private
image, a shared image with a member, a server group, an application credential.

`World.reads` are the ids a path parameter may take in any request; `World.scratch` the
ids the admin's and A's writes may take (their own throw-away resources, so a fuzzed
DELETE or PATCH cannot destroy what the leak checks look for, nor lock a principal out);
`World.secret` the ids of A's that B must never see."""

from __future__ import annotations

import collections
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.testclient import TestClient

from stackbox import bus as sbbus
from stackbox.api.app import build_app
from stackbox.api.server import make_state, prepare_database
from stackbox.compute.bootstrap import ensure_default_flavors
from stackbox.identity.bootstrap import bootstrap
from tests.compute.api.servers_helpers import RecordingConductor, cloud_config

B_PASSWORD = "fuzz-b-Password-1"


@dataclass
class World:
    client: TestClient
    state: Any
    passwords: dict[str, tuple[str, str, str]]  # who -> (user, password, project)
    tokens: dict[str, str] = field(default_factory=dict)
    reads: dict[str, list[str]] = field(default_factory=dict)
    scratch: dict[str, list[str]] = field(default_factory=dict)
    secret: set[str] = field(default_factory=set)
    owned: dict[str, str] = field(default_factory=dict)  # label -> A's resource path

    def login(self, who: str) -> str:
        user, password, project = self.passwords[who]
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": user, "domain": {"id": "default"}, "password": password}
                    },
                },
                "scope": {"project": {"name": project, "domain": {"id": "default"}}},
            }
        }
        r = self.client.post("/identity/v3/auth/tokens", json=body)
        assert r.status_code == 201, r.text
        self.tokens[who] = r.headers["X-Subject-Token"]
        return self.tokens[who]

    def call(self, who: str, method: str, path: str, **kw: Any) -> Any:
        headers = {"X-Auth-Token": self.tokens[who], **kw.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kw)

    def made(self, who: str, method: str, path: str, body: Any, key: str | None) -> dict:
        r = self.call(who, method, path, json=body)
        assert r.status_code in (200, 201, 202), (path, r.status_code, r.text)
        data = r.json()
        return data[key] if key else data

    def token_info(self, who: str) -> dict:
        tok = self.tokens[who]
        r = self.call(who, "GET", "/identity/v3/auth/tokens", headers={"X-Subject-Token": tok})
        return r.json()["token"]


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _identity(w: World) -> None:
    """Project B, its member, and scratch identity objects for the admin's writes."""
    member = w.made("admin", "GET", "/identity/v3/roles?name=member", None, "roles")[0]["id"]
    ids = {}
    for label in ("b", "scratch"):
        proj = w.made(
            "admin", "POST", "/identity/v3/projects", {"project": {"name": _name(label)}}, "project"
        )
        user = w.made(
            "admin",
            "POST",
            "/identity/v3/users",
            {
                "user": {
                    "name": _name(label),
                    "password": B_PASSWORD,
                    "default_project_id": proj["id"],
                }
            },
            "user",
        )
        r = w.call(
            "admin", "PUT", f"/identity/v3/projects/{proj['id']}/users/{user['id']}/roles/{member}"
        )
        assert r.status_code == 204, r.text
        ids[label] = (user, proj)
    w.passwords["B"] = (ids["b"][0]["name"], B_PASSWORD, ids["b"][1]["name"])
    w.login("B")
    role = w.made("admin", "POST", "/identity/v3/roles", {"role": {"name": _name("r")}}, "role")
    group = w.made("admin", "POST", "/identity/v3/groups", {"group": {"name": _name("g")}}, "group")
    who = {k: w.token_info(k) for k in ("admin", "A", "B")}
    users = [who[k]["user"]["id"] for k in who]
    projects = [who[k]["project"]["id"] for k in who]
    w.reads.update(
        user_id=users,
        actor_id=[*users, group["id"]],
        project_id=projects,
        target_id=projects,
        member_id=projects,
        role_id=[member, role["id"]],
        prior_role_id=[member],
        implied_role_id=[role["id"]],
        group_id=[group["id"]],
        domain_id=["default"],
    )
    su, sp = ids["scratch"][0]["id"], ids["scratch"][1]["id"]
    w.scratch.update(
        user_id=[su],
        actor_id=[su, group["id"]],
        project_id=[sp],
        target_id=[sp],
        role_id=[role["id"]],
        implied_role_id=[role["id"]],
        prior_role_id=[role["id"]],
        group_id=[group["id"]],
        member_id=[sp],
    )


def _image(w: World, who: str, visibility: str) -> str:
    body = {"name": _name("img"), "disk_format": "raw", "container_format": "bare"}
    img = w.made(who, "POST", "/image/v2/images", {**body, "visibility": visibility}, None)
    r = w.call(
        who,
        "PUT",
        f"/image/v2/images/{img['id']}/file",
        content=b"\0" * 4096,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 204, r.text
    return str(img["id"])


def _project_a(w: World) -> None:
    """A's resources: one set kept for the leak checks, one set for A's fuzzed writes."""
    a_user = w.token_info("A")["user"]["id"]
    admin_project = w.token_info("admin")["project"]["id"]
    flavor = w.made(
        "admin",
        "POST",
        "/compute/v2.1/flavors",
        {"flavor": {"name": _name("f"), "ram": 64, "vcpus": 1, "disk": 1}},
        "flavor",
    )
    public = _image(w, "admin", "public")
    sets: dict[str, dict[str, str]] = {}
    for label in ("kept", "scratch"):
        ids = sets[label] = {}
        ids["server_id"] = w.made(
            "A",
            "POST",
            "/compute/v2.1/servers",
            {"server": {"name": _name("s"), "imageRef": public, "flavorRef": flavor["id"]}},
            "server",
        )["id"]
        ids["image_id"] = _image(w, "A", "private")
        shared = ids["shared_image"] = _image(w, "A", "shared")
        r = w.call(
            "A", "POST", f"/image/v2/images/{shared}/members", json={"member": admin_project}
        )
        assert r.status_code == 200, r.text
        ids["os-server-groups"] = w.made(
            "A",
            "POST",
            "/compute/v2.1/os-server-groups",
            {"server_group": {"name": _name("sg"), "policies": ["anti-affinity"]}},
            "server_group",
        )["id"]
        ids["os-keypairs"] = w.made(
            "A", "POST", "/compute/v2.1/os-keypairs", {"keypair": {"name": _name("key")}}, "keypair"
        )["name"]
        ids["application_credential_id"] = w.made(
            "A",
            "POST",
            f"/identity/v3/users/{a_user}/application_credentials",
            {"application_credential": {"name": _name("ac")}},
            "application_credential",
        )["id"]
        w.secret.update(ids.values())
    kept, scratch = sets["kept"], sets["scratch"]
    w.owned = {
        "server": f"/compute/v2.1/servers/{kept['server_id']}",
        "image": f"/image/v2/images/{kept['image_id']}",
        "shared image": f"/image/v2/images/{kept['shared_image']}",
        "image member": f"/image/v2/images/{kept['shared_image']}/members/{admin_project}",
        "server group": f"/compute/v2.1/os-server-groups/{kept['os-server-groups']}",
        "keypair": f"/compute/v2.1/os-keypairs/{kept['os-keypairs']}",
        "app credential": f"/identity/v3/users/{a_user}/application_credentials/"
        f"{kept['application_credential_id']}",
    }
    for key in ("server_id", "os-server-groups", "os-keypairs", "application_credential_id"):
        w.reads[key] = [kept[key], scratch[key]]
        w.scratch[key] = [scratch[key]]
    w.reads["image_id"] = [kept["image_id"], kept["shared_image"], public]
    w.scratch["image_id"] = [scratch["image_id"], scratch["shared_image"]]
    w.reads["flavor_id"] = w.scratch["flavor_id"] = [flavor["id"]]


def make_world(tmp: str, url: str | None) -> Iterator[World]:
    cfg = cloud_config(tmp, url)
    db = prepare_database(cfg)
    bus = sbbus.connect("local://")
    state = make_state(cfg, db, bus)
    with db.session() as s:
        creds = bootstrap(s, cfg)
        ensure_default_flavors(s)
    conductor = RecordingConductor()
    conductor.builds = collections.deque(maxlen=16)  # type: ignore[assignment]
    app = build_app(state)
    with TestClient(
        app, base_url="http://127.0.0.1:18080", raise_server_exceptions=False
    ) as client:
        assert client.portal is not None
        client.portal.call(bus.start)
        client.portal.call(lambda: bus.serve("conductor", conductor, host="fuzz-conductor"))
        w = World(
            client,
            state,
            {
                "admin": ("admin", creds.admin_password, "admin"),
                "A": ("demo", creds.demo_password, "demo"),
            },
        )
        w.login("admin")
        w.login("A")
        _identity(w)
        _project_a(w)
        yield w
        client.portal.call(bus.stop)
    db.dispose()
