"""Import task records: what an import leaves (success or failure), who sees an image's
tasks, the admin-only tasks API (filters, sorting, paging), the task schemas, expiry."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import pytest
from sqlalchemy import update

from stackbox import privileged
from stackbox.image.models import ImageTask
from tests.image.conftest import Cloud, create, get, project_id, unique

RAW_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")
API_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
GLANCE_DIRECT = {"method": {"name": "glance-direct"}}


def _stage_and_import(cloud: Cloud, headers: dict, data: bytes = b"data", **attrs: Any) -> Any:
    img = create(cloud, headers, **attrs)
    base = f"/image/v2/images/{img['id']}"
    r = cloud.client.put(
        f"{base}/stage",
        content=data,
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 204, r.text
    return img, cloud.client.post(f"{base}/import", json=GLANCE_DIRECT, headers=headers)


def _image_tasks(cloud: Cloud, headers: dict, image_id: str) -> Any:
    return cloud.client.get(f"/image/v2/images/{image_id}/tasks", headers=headers)


def test_import_leaves_a_success_task(cloud: Cloud, demo: dict) -> None:
    img, r = _stage_and_import(cloud, demo)
    assert r.status_code == 202, r.text
    got = _image_tasks(cloud, demo, img["id"])
    assert got.status_code == 200
    (task,) = got.json()["tasks"]
    assert task["type"] == "api_image_import" and task["status"] == "success"
    assert task["image_id"] == img["id"] and task["result"] == {"image_id": img["id"]}
    assert task["input"]["import_req"] == GLANCE_DIRECT
    assert task["input"]["image_id"] == img["id"]
    assert task["owner"] == project_id(cloud, demo) and task["message"] == ""
    assert task["request_id"] == r.headers["x-openstack-request-id"]
    assert task["user_id"] and task["deleted"] is False and task["deleted_at"] is None
    for name in ("created_at", "updated_at", "expires_at"):
        assert RAW_TS.match(task[name]), task[name]
    ends = dt.datetime.fromisoformat(task["updated_at"])
    assert dt.datetime.fromisoformat(task["expires_at"]) - ends == dt.timedelta(hours=48)


def test_failed_import_leaves_a_failure_task(cloud: Cloud, demo: dict) -> None:
    if not privileged.available("qemu-img"):
        pytest.skip("qemu-img not installed")
    img, r = _stage_and_import(cloud, demo, b"not a qcow2 image" * 100, disk_format="qcow2")
    assert r.status_code == 202  # Glance imports in the background: the task fails
    assert get(cloud, demo, img["id"]).json()["status"] == "queued"  # Glance's revert
    (task,) = _image_tasks(cloud, demo, img["id"]).json()["tasks"]
    assert task["status"] == "failure" and task["result"] is None
    assert "Image disk_format qcow2 does not match stream data raw" in task["message"]


def test_refused_import_leaves_no_task(cloud: Cloud, demo: dict) -> None:
    img = create(cloud, demo)
    base = f"/image/v2/images/{img['id']}"
    assert cloud.client.post(f"{base}/import", json=GLANCE_DIRECT, headers=demo).status_code == 409
    bad = {"method": {"name": "nope"}}
    assert cloud.client.post(f"{base}/import", json=bad, headers=demo).status_code == 400
    assert _image_tasks(cloud, demo, img["id"]).json() == {"tasks": []}


def test_who_sees_an_images_tasks(cloud: Cloud, admin: dict, demo: dict) -> None:
    private, _ = _stage_and_import(cloud, admin, visibility="private")
    assert _image_tasks(cloud, demo, private["id"]).status_code == 404
    assert _image_tasks(cloud, demo, str(uuid.uuid4())).status_code == 404
    # A member sees the image, not the tasks of the project that imported it.
    shared, _ = _stage_and_import(cloud, admin, visibility="shared")
    r = cloud.client.post(
        f"/image/v2/images/{shared['id']}/members",
        json={"member": project_id(cloud, demo)},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert _image_tasks(cloud, demo, shared["id"]).json() == {"tasks": []}
    assert len(_image_tasks(cloud, admin, shared["id"]).json()["tasks"]) == 1


def test_tasks_api_is_admin_only(cloud: Cloud, admin: dict, demo: dict) -> None:
    img, _ = _stage_and_import(cloud, demo)
    (task,) = _image_tasks(cloud, demo, img["id"]).json()["tasks"]
    assert cloud.client.get("/image/v2/tasks", headers=demo).status_code == 403
    assert cloud.client.get(f"/image/v2/tasks/{task['id']}", headers=demo).status_code == 403
    r = cloud.client.get(f"/image/v2/tasks/{task['id']}", headers=admin)
    assert r.status_code == 200
    shown = r.json()
    assert shown["self"] == f"/v2/tasks/{task['id']}" and shown["schema"] == "/v2/schemas/task"
    assert shown["status"] == "success" and shown["image_id"] == img["id"]
    assert shown["input"] == task["input"] and shown["result"] == {"image_id": img["id"]}
    assert shown["user_id"] == task["user_id"] and shown["request_id"] == task["request_id"]
    assert all(API_TS.match(shown[k]) for k in ("created_at", "updated_at", "expires_at"))
    missing = cloud.client.get(f"/image/v2/tasks/{uuid.uuid4()}", headers=admin)
    assert missing.status_code == 404


def test_list_filters_sorts_and_pages(cloud: Cloud, admin: dict) -> None:
    made = [_stage_and_import(cloud, admin, name=unique("page"))[0] for _ in range(3)]
    ids = {_image_tasks(cloud, admin, i["id"]).json()["tasks"][0]["id"]: i["id"] for i in made}
    r = cloud.client.get(f"/image/v2/tasks?image_id={made[1]['id']}", headers=admin)
    (stub,) = r.json()["tasks"]
    assert ids[stub["id"]] == made[1]["id"]
    assert set(stub) == {
        "id", "type", "status", "owner", "created_at", "updated_at", "expires_at", "self",
        "schema",
    }  # fmt: skip
    seen: list[str] = []
    url = "/v2/tasks?status=success&sort_key=created_at&sort_dir=asc&limit=1"
    body = cloud.client.get(f"/image{url}", headers=admin).json()
    assert body["first"] == "/v2/tasks?status=success&sort_key=created_at&sort_dir=asc&limit=1"
    while True:
        seen += [t["id"] for t in body["tasks"]]
        if "next" not in body:
            break
        body = cloud.client.get(f"/image{body['next']}", headers=admin).json()
    assert len(seen) == len(set(seen)) and set(ids) <= set(seen)
    mine = [t for t in seen if t in ids]
    assert [ids[t] for t in mine] == [i["id"] for i in made]  # oldest first
    newest = cloud.client.get("/image/v2/tasks?limit=1", headers=admin).json()["tasks"]
    assert newest[0]["id"] == mine[-1]


@pytest.mark.parametrize(
    "query",
    [
        "status=done",
        "type=copy",
        "sort_key=input",
        "sort_dir=up",
        "limit=-1",
        "limit=x",
        "marker=not-a-uuid",
        f"marker={uuid.uuid4()}",
    ],
)
def test_list_rejects(cloud: Cloud, admin: dict, query: str) -> None:
    assert cloud.client.get(f"/image/v2/tasks?{query}", headers=admin).status_code == 400


def test_task_schemas(cloud: Cloud, demo: dict) -> None:
    task = cloud.client.get("/image/v2/schemas/task", headers=demo).json()
    assert task["name"] == "task"
    assert {"input", "result", "message", "status", "self"} <= set(task["properties"])
    tasks = cloud.client.get("/image/v2/schemas/tasks", headers=demo).json()
    item = tasks["properties"]["tasks"]["items"]
    assert tasks["name"] == "tasks" and "input" not in item["properties"]
    assert item["properties"]["status"]["enum"] == ["pending", "processing", "success", "failure"]


def test_expired_tasks_are_hidden_then_purged(cloud: Cloud, demo: dict) -> None:
    img, _ = _stage_and_import(cloud, demo)
    (task,) = _image_tasks(cloud, demo, img["id"]).json()["tasks"]
    past = dt.datetime(2000, 1, 1)
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        s.execute(update(ImageTask).where(ImageTask.id == task["id"]).values(expires_at=past))
    assert _image_tasks(cloud, demo, img["id"]).json() == {"tasks": []}
    _stage_and_import(cloud, demo)  # a new task purges the expired one
    with cloud.state.db.session() as s:  # type: ignore[attr-defined]
        assert s.get(ImageTask, task["id"]) is None
