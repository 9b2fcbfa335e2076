"""createBackup on the host, on the real LibvirtDriver (test:///default) with real disks:
the snapshot is uploaded into the API's image, the instance is free again, then the
backups of the instance and type beyond `rotation` are deleted, oldest first, through
a small in-test Image API (httpx's MockTransport) that pages its list two at a time."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import httpx
import pytest

from stackbox import privileged
from stackbox.compute import states as st
from stackbox.compute.imageupload import ImageUploader
from tests.compute.recording import IMG, active, compute_rig, make_image

pytestmark = pytest.mark.skipif(
    not privileged.available("qemu-img"), reason="needs qemu-img (qemu-utils) for real disks"
)
PAGE = 2


@dataclass
class ImageAPI:
    """Images by id, each {"id", "created_at", **properties}, listed newest first."""

    images: dict[str, dict[str, str]] = field(default_factory=dict)
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    clock: itertools.count = field(default_factory=lambda: itertools.count(1))

    def add(self, image_id: str, **props: str) -> None:
        self.images[image_id] = {"id": image_id, "created_at": f"{next(self.clock):04d}", **props}

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/image/v2/images")
        if request.method == "PUT":
            self.uploaded.append(path.strip("/").split("/")[0])
            return httpx.Response(204)
        if request.method == "DELETE":
            image_id = path.strip("/")
            self.deleted.append(image_id)
            return httpx.Response(204 if self.images.pop(image_id, None) else 404)
        return self._list(request)

    def _list(self, request: httpx.Request) -> httpx.Response:
        q = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        assert (q.pop("sort_key"), q.pop("sort_dir")) == ("created_at", "desc")
        marker = q.pop("marker", None)
        found = sorted(
            (i for i in self.images.values() if all(i.get(k) == v for k, v in q.items())),
            key=lambda i: i["created_at"],
            reverse=True,
        )
        ids = [i["id"] for i in found]
        start = ids.index(marker) + 1 if marker else 0
        page = found[start : start + PAGE]
        body: dict = {"images": page}
        if start + PAGE < len(found):
            query = {**q, "sort_key": "created_at", "sort_dir": "desc", "marker": page[-1]["id"]}
            body["next"] = f"/v2/images?{urlencode(query)}"
        return httpx.Response(200, content=json.dumps(body))


async def token(project_id: str, user_id: str) -> str:
    return f"t-{project_id}"


def backup_props(uid: str, kind: str = "daily") -> dict[str, str]:
    return {"image_type": "backup", "backup_type": kind, "instance_uuid": uid}


@pytest.mark.parametrize("rotation, kept", [(2, ["b3", "new"]), (0, []), (9, None)])
async def test_backup_uploads_then_rotates(
    tmp_path: Path, rotation: int, kept: list[str] | None
) -> None:
    api = ImageAPI()
    up = ImageUploader("http://img.test/image", token, transport=httpx.MockTransport(api.handle))
    async for rig in compute_rig(tmp_path, uploader=up):
        make_image(rig.store, IMG)
        uid = await active(rig)
        for name in ("b1", "b2", "b3"):
            api.add(name, **backup_props(uid))
        api.add("weekly", **backup_props(uid, "weekly"))
        api.add("other", **backup_props("another-instance"))
        api.add("new", **backup_props(uid))  # the API created it before casting
        inst = rig.set_task(uid, st.IMAGE_BACKUP)
        await rig.manager.backup_instance(
            instance=inst, request_id="b", image_id="new", backup_type="daily", rotation=rotation
        )
        assert api.uploaded == ["new"]
        now = rig.current(uid)
        assert (now["vm_state"], now["task_state"]) == (st.ACTIVE, None)
        assert ("compute_backup_instance", "Success") in rig.events_of(uid)
        daily = sorted(i for i, p in api.images.items() if p == {**p, **backup_props(uid)})
        assert daily == (sorted(kept) if kept is not None else ["b1", "b2", "b3", "new"])
        assert {"weekly", "other"} <= set(api.images)
        if rotation == 2:
            assert api.deleted == ["b1", "b2"]  # oldest first
