"""POST /v2/tasks (the legacy `import` task) and DELETE /v2/tasks/{id}: a task that
downloads a qcow2 from a local web server into a new image in the background, the
failures it ends with (unreachable, refused redirect, bad data, missing input), the
URLs refused at creation, bad bodies, and who may call it."""

from __future__ import annotations

import hashlib
import socket
import time
from typing import Any

import pytest

from tests.image.conftest import Cloud, get, project_id, unique
from tests.image.websites import Site, local_site, options

TASKS = "/image/v2/tasks"


def _task(url: str, **props: Any) -> dict:
    props.setdefault("name", unique("task-img"))
    props.setdefault("disk_format", "qcow2")
    props.setdefault("container_format", "bare")
    return {
        "type": "import",
        "input": {"import_from": url, "import_from_format": "qcow2", "image_properties": props},
    }


def _create(cloud: Cloud, headers: dict, body: Any) -> Any:
    return cloud.client.post(TASKS, json=body, headers=headers)


def _wait(cloud: Cloud, headers: dict, task_id: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = cloud.client.get(f"{TASKS}/{task_id}", headers=headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("success", "failure"):
            return r.json()
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not end")


def _images_named(cloud: Cloud, headers: dict, name: str) -> list:
    return cloud.client.get(f"/image/v2/images?name={name}", headers=headers).json()["images"]


def test_import_task_downloads_into_a_new_image(cloud: Cloud, admin: dict, site: Site) -> None:
    body = _task(site.url("/disk.qcow2"), visibility="public", hw_disk_bus="virtio")
    with local_site(cloud, site):  # the filter applies when the work starts, too
        r = _create(cloud, admin, body)
        assert r.status_code == 201, r.text
        created = r.json()
        task = _wait(cloud, admin, created["id"])
    assert r.headers["Location"] == f"/v2/tasks/{created['id']}"
    assert created["type"] == "import" and created["status"] == "pending"
    assert created["input"] == body["input"] and created["result"] is None
    assert created["owner"] == project_id(cloud, admin)
    assert "image_id" not in created  # as Glance: the image is in the result only
    assert task["status"] == "success", task["message"]
    assert task["expires_at"] and task["message"] == ""
    img = get(cloud, admin, task["result"]["image_id"]).json()
    assert img["status"] == "active" and img["disk_format"] == "qcow2"
    assert img["name"] == body["input"]["image_properties"]["name"]
    assert img["visibility"] == "public" and img["hw_disk_bus"] == "virtio"
    assert img["size"] == len(site.qcow2) and img["virtual_size"] == 1 << 20
    assert img["checksum"] == hashlib.md5(site.qcow2).hexdigest()
    data = cloud.client.get(f"/image/v2/images/{img['id']}/file", headers=admin)
    assert data.content == site.qcow2


def test_the_request_does_not_wait_for_the_download(cloud: Cloud, admin: dict, site: Site) -> None:
    site.release.clear()
    with local_site(cloud, site):
        try:
            r = _create(cloud, admin, _task(site.url("/slow.qcow2")))
            assert r.status_code == 201, r.text
            shown = cloud.client.get(f"{TASKS}/{r.json()['id']}", headers=admin).json()
            assert shown["status"] in ("pending", "processing")
        finally:
            site.release.set()
        assert _wait(cloud, admin, r.json()["id"])["status"] == "success"


def _failed(cloud: Cloud, admin: dict, site: Site, url: str, port: int = 80, **props: Any) -> dict:
    body = _task(url, **props)
    with local_site(cloud, site, port):
        r = _create(cloud, admin, body)
        assert r.status_code == 201, r.text
        task = _wait(cloud, admin, r.json()["id"])
    assert task["status"] == "failure" and task["result"] is None
    name = body["input"]["image_properties"]["name"]
    assert _images_named(cloud, admin, name) == []  # the image it created is gone
    return task


def test_unreachable_location_fails_the_task(cloud: Cloud, admin: dict, site: Site) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    task = _failed(cloud, admin, site, f"http://127.0.0.1:{port}/disk.qcow2", port)
    assert task["message"].startswith(f"Could not connect to http://127.0.0.1:{port}/")


def test_missing_data_and_bad_data_fail_the_task(cloud: Cloud, admin: dict, site: Site) -> None:
    task = _failed(cloud, admin, site, site.url("/nothing.qcow2"))
    assert "the server answered 404" in task["message"]
    task = _failed(cloud, admin, site, site.url("/garbage.qcow2"))
    assert "Image disk_format qcow2 does not match stream data raw" in task["message"]


def test_refused_redirect_fails_the_task(cloud: Cloud, admin: dict, site: Site) -> None:
    for target in ("http://127.0.0.1:9/disk.qcow2", "file:///etc/passwd"):
        site.redirect_to = target
        task = _failed(cloud, admin, site, site.url("/away"))
        assert task["message"] == f"Redirect to disallowed URL: {target}"
    site.redirect_to = "/disk.qcow2"  # an allowed one (relative) is followed
    with local_site(cloud, site):
        r = _create(cloud, admin, _task(site.url("/away")))
        assert _wait(cloud, admin, r.json()["id"])["status"] == "success"


def test_missing_input_and_bad_properties_fail_the_task(
    cloud: Cloud, admin: dict, site: Site
) -> None:
    body = _task(site.url("/disk.qcow2"))
    del body["input"]["import_from_format"]
    with local_site(cloud, site):
        r = _create(cloud, admin, body)
        task = _wait(cloud, admin, r.json()["id"])
    assert task["status"] == "failure"
    assert task["message"] == "Input does not contain 'import_from_format' field"
    task = _failed(cloud, admin, site, site.url("/disk.qcow2"), disk_format="floppy")
    assert "Invalid value for 'disk_format'" in task["message"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1/disk.qcow2", "does not pass filtering: http://127.0.0.1/"),
        ("http://localhost/disk.qcow2", "does not pass filtering"),
        ("http://169.254.169.254/latest", "does not pass filtering"),
        ("http://2130706433/disk.qcow2", "does not pass filtering"),
        ("http://example.com:8080/disk.qcow2", "does not pass filtering"),
        ("http://no-such-host.invalid/disk.qcow2", "does not pass filtering"),
        ("file:///etc/passwd", "File based imports are not allowed."),
        ("ftp://example.com/disk.qcow2", "The given uri is not valid."),
        (None, "Invalid location: None"),
    ],
)
def test_refused_locations(cloud: Cloud, admin: dict, url: str | None, message: str) -> None:
    r = _create(cloud, admin, _task(url))  # type: ignore[arg-type]
    assert r.status_code == 400
    assert message in r.text


def test_operator_options_decide_what_passes(cloud: Cloud, admin: dict, site: Site) -> None:
    url = site.url("/disk.qcow2")
    with options(cloud, allowed_ports=[site.port]):  # still loopback
        assert _create(cloud, admin, _task(url)).status_code == 400
    with options(cloud, allow_internal_hosts=True):  # still a port not allowed
        assert _create(cloud, admin, _task(url)).status_code == 400
    with local_site(cloud, site), options(cloud, disallowed_schemes=["http"]):
        assert _create(cloud, admin, _task(url)).status_code == 201  # allowed list wins
    with local_site(cloud, site), options(cloud, allowed_hosts=["10.0.0.1"]):
        assert _create(cloud, admin, _task(url)).status_code == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "Body expected in request."),
        ({"input": {}}, "Task 'type' is required"),
        ({"type": "import"}, "Task 'input' is required"),
        ({"type": "bogus", "input": {}}, "'bogus' is not one of"),
        ({"type": "import", "input": "x"}, "'x' is not of type"),
        ({"type": "import", "input": {}, "surprise": 1}, "surprise"),
        ({"type": "api_image_import", "input": {}}, "not created through the tasks API"),
        ([1], "is not of type 'object'"),
    ],
)
def test_bad_bodies(cloud: Cloud, admin: dict, body: Any, message: str) -> None:
    r = _create(cloud, admin, body)
    assert r.status_code == 400, r.text
    assert message in r.text


def test_only_admins_by_default(cloud: Cloud, demo: dict) -> None:
    r = _create(cloud, demo, _task("http://example.com/disk.qcow2"))
    assert r.status_code == 403
    assert "tasks_api_access" in r.text
    r = cloud.client.post(TASKS, content=b"{not json", headers=demo)
    assert r.status_code == 403  # policy first, as Glance
    assert cloud.client.delete(f"{TASKS}/{unique('t')}", headers=demo).status_code == 403


def test_tasks_cannot_be_deleted(cloud: Cloud, admin: dict) -> None:
    r = cloud.client.delete(f"{TASKS}/d4b4bd0e-3bc5-4b0c-9dd6-2c9ad3e6e3e6", headers=admin)
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET"
    assert "auto deleted" in r.text
