"""An in-process cloud for the server API tests (SQLite and PostgreSQL), with a started
local bus on which a `RecordingConductor` serves the "conductor" topic: it records the
casts it receives (a named fake of the conductor only; nothing builds the servers, so
they stay BUILD/scheduling). Also: flavors, images and a key pair to boot from, and
shortcuts for the calls the tests make.

Test modules import the `srv` fixture from here (as `srv_fixture`, so that the
fixture's name does not clash with the test arguments)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.testclient import TestClient

from stackbox import bus as sbbus
from stackbox import config as sbconfig
from stackbox.api.app import build_app
from stackbox.api.server import make_state, prepare_database
from stackbox.compute.models import Flavor, FlavorProject, Instance, KeyPair
from stackbox.identity.bootstrap import bootstrap
from stackbox.image.models import Image
from tests.conftest import pg_schema_url

MAXMV = "2.100"


class RecordingConductor:
    """Stands in for the conductor on the bus: records every build_instances cast."""

    def __init__(self) -> None:
        self.builds: list[dict[str, Any]] = []

    async def build_instances(self, **kwargs: Any) -> None:
        self.builds.append(kwargs)

    def wait_for(self, uuid_: str, timeout: float = 5.0) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for b in self.builds:
                if uuid_ in b["instance_uuids"]:
                    return b
            time.sleep(0.01)
        raise AssertionError(f"no build_instances cast for {uuid_}")


@dataclass
class Srv:
    client: TestClient
    state: Any
    conductor: RecordingConductor
    admin: dict[str, str]
    demo: dict[str, str]
    admin_ids: tuple[str, str]  # (user_id, project_id)
    demo_ids: tuple[str, str]
    flavors: dict[str, str] = field(default_factory=dict)  # label -> flavorid
    images: dict[str, str] = field(default_factory=dict)  # label -> image id
    keypair: str = ""

    # --- calls -----------------------------------------------------------------
    def h(self, who: dict[str, str], mv: str | None = None) -> dict[str, str]:
        return {**who, "OpenStack-API-Version": f"compute {mv}"} if mv else dict(who)

    def post(self, body: Any, who: dict[str, str] | None = None, mv: str | None = None) -> Any:
        return self.client.post(
            "/compute/v2.1/servers", json=body, headers=self.h(who or self.demo, mv)
        )

    def get(self, path: str, who: dict[str, str] | None = None, mv: str | None = None) -> Any:
        return self.client.get(f"/compute/v2.1{path}", headers=self.h(who or self.demo, mv))

    def put(
        self, path: str, body: Any, who: dict[str, str] | None = None, mv: str | None = None
    ) -> Any:
        return self.client.put(
            f"/compute/v2.1{path}", json=body, headers=self.h(who or self.demo, mv)
        )

    def delete(self, path: str, who: dict[str, str] | None = None, mv: str | None = None) -> Any:
        return self.client.delete(f"/compute/v2.1{path}", headers=self.h(who or self.demo, mv))

    def body(self, **server: Any) -> dict[str, Any]:
        server.setdefault("name", unique("srv"))
        server.setdefault("imageRef", self.images["tiny"])
        server.setdefault("flavorRef", self.flavors["tiny"])
        return {"server": server}

    def boot(self, who: dict[str, str] | None = None, mv: str | None = None, **server: Any) -> str:
        r = self.post(self.body(**server), who, mv)
        assert r.status_code == 202, r.text
        return str(r.json()["server"]["id"])

    def set_row(self, server_id: str, **values: Any) -> None:
        """Move a server along as the conductor/compute would (they do not run here)."""
        with self.state.db.session() as s:
            inst = s.query(Instance).filter_by(uuid=server_id).one()
            for k, v in values.items():
                setattr(inst, k, v)
            s.commit()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _token_ids(client: TestClient, token: str) -> tuple[str, str]:
    r = client.get(
        "/identity/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}
    )
    t = r.json()["token"]
    return t["user"]["id"], t["project"]["id"]


def _token(client: TestClient, user: str, password: str, project: str) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"name": "Default"}, "password": password}
                },
            },
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
        }
    }
    r = client.post("/identity/v3/auth/tokens", json=body)
    assert r.status_code == 201, r.text
    return str(r.headers["X-Subject-Token"])


def _image(
    client: TestClient, admin: dict[str, str], visibility: str, upload: bool, **kw: Any
) -> str:
    body = {"name": unique("img"), "disk_format": "raw", "container_format": "bare"}
    body.update(visibility=visibility, **kw)
    r = client.post("/image/v2/images", json=body, headers=admin)
    assert r.status_code == 201, r.text
    image_id = str(r.json()["id"])
    if upload:
        r = client.put(
            f"/image/v2/images/{image_id}/file",
            content=b"\0" * 4096,
            headers={**admin, "Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 204, r.text
    return image_id


def _seed(srv: Srv) -> None:
    tag = uuid.uuid4().hex[:6]
    specs = {
        "tiny": dict(memory_mb=64, vcpus=1, root_gb=1),
        "zero": dict(memory_mb=64, vcpus=1, root_gb=0),
        "disabled": dict(memory_mb=64, vcpus=1, root_gb=1, disabled=True),
        "private": dict(memory_mb=64, vcpus=1, root_gb=1, is_public=False),
        "shared": dict(memory_mb=64, vcpus=1, root_gb=1, is_public=False),
    }
    with srv.state.db.session() as s:
        for label, values in specs.items():
            flv = Flavor(flavorid=f"sbx-{label}-{tag}", name=f"sbx.{label}.{tag}", **values)
            if label == "shared":
                flv.projects = [FlavorProject(project_id=srv.demo_ids[1])]
            s.add(flv)
            srv.flavors[label] = flv.flavorid
        s.add(
            KeyPair(
                name=f"key-{tag}",
                user_id=srv.demo_ids[0],
                fingerprint="00:11",
                public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI demo@test",
            )
        )
        srv.keypair = f"key-{tag}"
        s.commit()
    c, a = srv.client, srv.admin
    srv.images["tiny"] = _image(c, a, "public", True, kernel_id=str(uuid.uuid4()))
    srv.images["private"] = _image(c, a, "private", True)
    srv.images["queued"] = _image(c, a, "public", False)
    srv.images["min_disk"] = _image(c, a, "public", True, min_disk=5)
    srv.images["min_ram"] = _image(c, a, "public", True, min_ram=4096)
    srv.images["huge"] = _image(c, a, "public", True)
    srv.images["needs_cd"] = _image(c, a, "public", True, img_config_drive="mandatory")
    with srv.state.db.session() as s:
        s.get(Image, srv.images["huge"]).virtual_size = 3 * 1024**3  # type: ignore[union-attr]
        s.commit()


def cloud_config(tmp: str, url: str | None) -> sbconfig.Config:
    """A session-wide test cloud's configuration: state in `tmp`, the database at `url`
    (None: SQLite in `tmp`), cheap password hashing, and no instance, core or RAM quota
    (such a cloud boots many servers in "demo"; quota tests give their own projects
    limits of their own)."""
    env = {
        "STACKBOX_DEFAULT__STATE_DIR": tmp,
        "STACKBOX_IDENTITY__PASSWORD_HASH_MEMORY_KIB": "1024",
        "STACKBOX_IDENTITY__PASSWORD_HASH_TIME_COST": "1",
        "STACKBOX_API__PORT": "18080",
        "STACKBOX_QUOTA__INSTANCES": "-1",
        "STACKBOX_QUOTA__CORES": "-1",
        "STACKBOX_QUOTA__RAM": "-1",
    }
    if url:
        env["STACKBOX_DATABASE__CONNECTION"] = url
    return sbconfig.load(env=env)


def make_srv(tmp: str, url: str | None) -> Iterator[Srv]:
    cfg = cloud_config(tmp, url)
    db = prepare_database(cfg)
    bus = sbbus.connect("local://")
    state = make_state(cfg, db, bus)
    with db.session() as s:
        creds = bootstrap(s, cfg)
    conductor = RecordingConductor()
    with TestClient(build_app(state), base_url="http://127.0.0.1:18080") as client:
        assert client.portal is not None
        client.portal.call(bus.start)
        client.portal.call(lambda: bus.serve("conductor", conductor, host="test-conductor"))
        admin_tok = _token(client, "admin", creds.admin_password, "admin")
        demo_tok = _token(client, "demo", creds.demo_password, "demo")
        srv = Srv(
            client,
            state,
            conductor,
            {"X-Auth-Token": admin_tok},
            {"X-Auth-Token": demo_tok},
            _token_ids(client, admin_tok),
            _token_ids(client, demo_tok),
        )
        _seed(srv)
        yield srv
        client.portal.call(bus.stop)
    db.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgres"], name="srv")
def srv_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Srv]:
    url = None
    if request.param == "postgres":
        url = pg_schema_url(request.getfixturevalue("pg_url"))
    yield from make_srv(str(tmp_path_factory.mktemp(f"servers-{request.param}")), url)
