"""Upload the built test guest as public images on a cloud's first start.

`stackbox image build-test` leaves `stackbox-tiny.qcow2`, `.vmlinuz` and `.initrd` in a
directory; `seed_test_guest` registers them through the Image API itself (in-process,
over ASGI, as the admin), so they go through the same validation, hashing and storage
as any user upload:

- `stackbox-tiny` (qcow2/bare): the bootable disk;
- `stackbox-tiny-kernel` (aki/aki) and `stackbox-tiny-ramdisk` (ari/ari): the pair for
  booting the kernel directly (an image with `kernel_id`/`ramdisk_id` properties).

Images that already exist by name are left alone, so restarts change nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from stackbox.identity import store
from stackbox.identity.models import Project, User

LOG = logging.getLogger(__name__)

IMAGES = (  # (name, file suffix, disk_format, container_format)
    ("stackbox-tiny", ".qcow2", "qcow2", "bare"),
    ("stackbox-tiny-kernel", ".vmlinuz", "aki", "aki"),
    ("stackbox-tiny-ramdisk", ".initrd", "ari", "ari"),
)


def admin_token(state: Any) -> str:
    """A short-lived admin token, minted directly (no password round trip)."""
    with state.db.session() as s:
        user = s.scalar(select(User).where(User.name == "admin", User.domain_id == "default"))
        project = store.project_by_name(s, "admin", "default")
        assert user is not None and isinstance(project, Project)
        token, _ctx = state.identity.issue(s, user, ("password",), project=project)
    return token


async def seed_test_guest(app: Any, state: Any, directory: Path) -> list[str]:
    """Upload the images missing by name; returns the names uploaded."""
    files = {name: directory / f"stackbox-tiny{suffix}" for name, suffix, _d, _c in IMAGES}
    if not all(f.is_file() for f in files.values()):
        LOG.info("no test guest in %s (build it with `stackbox image build-test`)", directory)
        return []
    headers = {"X-Auth-Token": admin_token(state)}
    transport = httpx.ASGITransport(app=app)
    uploaded = []
    async with httpx.AsyncClient(
        transport=transport, base_url="http://stackbox.internal", headers=headers, timeout=300
    ) as client:
        existing = await client.get("/image/v2/images", params={"limit": 1000})
        existing.raise_for_status()
        have = {i["name"] for i in existing.json()["images"]}
        for name, _suffix, disk_format, container_format in IMAGES:
            if name in have:
                continue
            r = await client.post(
                "/image/v2/images",
                json={
                    "name": name,
                    "disk_format": disk_format,
                    "container_format": container_format,
                    "visibility": "public",
                    "os_distro": "stackbox-tiny",
                    "hw_qemu_guest_agent": "no",
                    # no metadata service yet: the guest learns who it is from a config drive
                    "img_config_drive": "mandatory",
                },
            )
            r.raise_for_status()
            image_id = r.json()["id"]
            data = files[name].read_bytes()
            put = await client.put(
                f"/image/v2/images/{image_id}/file",
                content=data,
                headers={"Content-Type": "application/octet-stream"},
            )
            put.raise_for_status()
            uploaded.append(name)
    if uploaded:
        LOG.info("uploaded test guest images: %s", ", ".join(uploaded))
    return uploaded
