"""Snapshot, shelve, offload and unshelve on the real LibvirtDriver (test:///default),
uploading to a real HTTP server on loopback that plays the Image API's data endpoint
(it stores PUT data in the image store directory, where the image cache finds it)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stackbox import privileged
from stackbox.compute import disks
from stackbox.compute import states as st
from stackbox.compute.imageupload import ImageUploader
from tests.compute.recording import (
    HOST,
    IMG,
    ComputeRig,
    active,
    compute_rig,
    make_image,
)

SNAP = "33333333-2222-4333-8444-555555555555"

pytestmark = pytest.mark.skipif(
    not privileged.available("qemu-img"), reason="needs qemu-img (qemu-utils) for real disks"
)


@dataclass
class ImageAPI:
    store: Path
    url: str = ""
    fail_put: bool = False
    puts: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)


@pytest.fixture
def image_api(tmp_path: Path) -> Iterator[ImageAPI]:
    api = ImageAPI(tmp_path / "state" / "images")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _image_id(self) -> str:
            return self.path.removeprefix("/image/v2/images/").split("/")[0]

        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            api.puts.append((self._image_id(), dict(self.headers)))
            if api.fail_put:
                self.send_response(500)
            else:
                (api.store / self._image_id()).write_bytes(body)
                self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_DELETE(self) -> None:
            api.deletes.append(self._image_id())
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api.url = f"http://127.0.0.1:{srv.server_address[1]}/image"
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield api
    srv.shutdown()
    srv.server_close()


@pytest.fixture
async def rig(tmp_path: Path, image_api: ImageAPI) -> AsyncIterator[ComputeRig]:
    async def token(project_id: str, user_id: str) -> str:
        return await rig_ref[0].manager.conductor.service_token(project_id, user_id)

    rig_ref: list[ComputeRig] = []
    async for r in compute_rig(tmp_path, uploader=ImageUploader(image_api.url, token)):
        rig_ref.append(r)
        make_image(r.store, IMG)
        yield r


async def test_snapshot_uploads_a_standalone_copy(rig: ComputeRig, image_api: ImageAPI) -> None:
    uuid = await active(rig)
    inst = rig.set_task(uuid, st.IMAGE_SNAPSHOT)
    await rig.manager.snapshot_instance(instance=inst, request_id="s", image_id=SNAP)
    inst = rig.current(uuid)
    assert (inst["vm_state"], inst["task_state"]) == (st.ACTIVE, None), rig.conductor.faults
    [(image_id, headers)] = image_api.puts
    assert image_id == SNAP
    assert headers["X-Auth-Token"] == "token-p1-u1"
    assert headers["Content-Type"] == "application/octet-stream"
    info = disks.disk_info(image_api.store / SNAP)
    assert info.format == "qcow2" and info.backing_file is None
    assert rig.driver.state(uuid).power_state == st.RUNNING  # unpaused again
    tasks = [v.get("task_state") for u, v in rig.conductor.updates if u == uuid]
    assert tasks[-3:] == [st.IMAGE_PENDING_UPLOAD, st.IMAGE_UPLOADING, None]
    assert not any((rig.instances_path / "_snapshots").iterdir())


async def test_failed_upload_deletes_the_image(rig: ComputeRig, image_api: ImageAPI) -> None:
    uuid = await active(rig)
    image_api.fail_put = True
    inst = rig.set_task(uuid, st.IMAGE_SNAPSHOT)
    await rig.manager.snapshot_instance(instance=inst, request_id="s", image_id=SNAP)
    inst = rig.current(uuid)
    assert (inst["vm_state"], inst["task_state"]) == (st.ACTIVE, None)
    assert image_api.deletes == [SNAP]
    assert "HTTP 500" in rig.conductor.faults[0]["message"]
    assert rig.events_of(uuid)[-1] == ("compute_snapshot_instance", "Error")


async def test_shelve_offload_unshelve(rig: ComputeRig, image_api: ImageAPI) -> None:
    uuid = await active(rig)
    inst = rig.set_task(uuid, st.SHELVING)
    await rig.manager.shelve_instance(instance=inst, request_id="sh", image_id=SNAP, offload=False)
    inst = rig.current(uuid)
    assert (inst["vm_state"], inst["task_state"]) == (st.SHELVED, None), rig.conductor.faults
    assert inst["power_state"] == st.SHUTDOWN
    assert inst["system_metadata"]["shelved_image_id"] == SNAP
    assert inst["system_metadata"]["shelved_host"] == HOST

    inst = rig.set_task(uuid, st.SHELVING_OFFLOADING)
    await rig.manager.shelve_offload_instance(instance=inst, request_id="off")
    inst = rig.current(uuid)
    assert inst["vm_state"] == st.SHELVED_OFFLOADED and inst["host"] is None
    assert not (rig.instances_path / uuid).exists()
    assert uuid not in {g.uuid for g in rig.driver.list_guests()}
    assert rig.conductor.released == [uuid]

    rig.conductor.instances[uuid].update(host=HOST, node=HOST)  # the conductor re-placed it
    inst = rig.set_task(uuid, st.SPAWNING)  # as the conductor leaves it after placement
    await rig.manager.unshelve_instance(instance=inst, request_id="un")
    inst = rig.current(uuid)
    assert (inst["vm_state"], inst["task_state"]) == (st.ACTIVE, None), rig.conductor.faults
    assert rig.driver.state(uuid).power_state == st.RUNNING
    assert "shelved_image_id" not in inst["system_metadata"]
    assert image_api.deletes == [SNAP]  # the shelved image is gone after unshelve
    assert disks.disk_info(rig.instances_path / uuid / "disk").backing_file


async def test_shelve_with_offload_at_once(rig: ComputeRig, image_api: ImageAPI) -> None:
    uuid = await active(rig)
    inst = rig.set_task(uuid, st.SHELVING)
    await rig.manager.shelve_instance(instance=inst, request_id="sh", image_id=SNAP, offload=True)
    inst = rig.current(uuid)
    assert (inst["vm_state"], inst["task_state"]) == (st.SHELVED_OFFLOADED, None)
    assert rig.conductor.released == [uuid]
    assert rig.events_of(uuid)[-1] == ("compute_shelve_instance", "Success")
