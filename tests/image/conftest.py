"""The in-process cloud (SQLite and PostgreSQL, from tests/identity/conftest.py) plus
image helpers: tokens of the admin and demo projects, create/upload shortcuts, and the
local web server imports download from (`site`, see websites.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackbox import privileged
from tests.conftest import pg_schema_url
from tests.identity.conftest import Cloud, _make_cloud, unique
from tests.image import websites

__all__ = ["Cloud", "unique"]


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def cloud(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cloud]:
    url = None
    if request.param == "postgres":
        # A schema of its own: other test folders bootstrap clouds into pg_url too.
        url = pg_schema_url(request.getfixturevalue("pg_url"))
    yield from _make_cloud(str(tmp_path_factory.mktemp(f"image-{request.param}")), url)


@pytest.fixture(scope="session")
def admin(cloud: Cloud) -> dict:
    return cloud.headers(cloud.token())


@pytest.fixture(scope="session")
def demo(cloud: Cloud) -> dict:
    return cloud.headers(cloud.token("demo", project="demo"))


def project_id(cloud: Cloud, headers: dict) -> str:
    r = cloud.client.get(
        "/identity/v3/auth/tokens",
        headers={**headers, "X-Subject-Token": headers["X-Auth-Token"]},
    )
    return r.json()["token"]["project"]["id"]


def store_dir(cloud: Cloud) -> Path:
    return Path(cloud.state.cfg.state_dir) / "images"  # type: ignore[attr-defined]


def create(cloud: Cloud, headers: dict, **body: Any) -> dict:
    body.setdefault("name", unique("img"))
    body.setdefault("disk_format", "raw")
    body.setdefault("container_format", "bare")
    r = cloud.client.post("/image/v2/images", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def upload(cloud: Cloud, headers: dict, image_id: str, data: Any, **extra: str) -> Any:
    return cloud.client.put(
        f"/image/v2/images/{image_id}/file",
        content=data,
        headers={**headers, "Content-Type": "application/octet-stream", **extra},
    )


def get(cloud: Cloud, headers: dict, image_id: str) -> Any:
    return cloud.client.get(f"/image/v2/images/{image_id}", headers=headers)


PATCH_V21 = "application/openstack-images-v2.1-json-patch"
PATCH_V20 = "application/openstack-images-v2.0-json-patch"  # Tempest's image client


def patch(cloud: Cloud, headers: dict, image_id: str, ops: list, media: str = PATCH_V21) -> Any:
    return cloud.client.patch(
        f"/image/v2/images/{image_id}", json=ops, headers={**headers, "Content-Type": media}
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[websites.Site]:
    if not privileged.available("qemu-img"):
        pytest.skip("qemu-img not installed")
    path = Path(tmp_path_factory.mktemp("site")) / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "1M"], check=True)
    s = websites.Site(path.read_bytes())
    s.thread.start()
    yield s
    s.release.set()
    s.server.shutdown()
    s.server.server_close()
