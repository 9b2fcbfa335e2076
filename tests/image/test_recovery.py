"""After a crash mid-upload: no partial file survives, no image stays `saving`, no
import task stays unfinished; an interrupted web-download leaves its image `queued`."""

from __future__ import annotations

from pathlib import Path

from stackbox import config
from stackbox.api.server import prepare_database
from stackbox.image.models import Image, ImageTask
from stackbox.image.recovery import recover
from stackbox.image.store import ImageStore


def test_recover_removes_partial_files_and_kills_interrupted_images(tmp_path: Path) -> None:
    cfg = config.load(env={"STACKBOX_DEFAULT__STATE_DIR": str(tmp_path)})
    db = prepare_database(cfg)
    store = ImageStore(tmp_path / "images")
    pending = store.new_file()
    pending.path.write_bytes(b"half an image")
    with db.session() as s:
        s.add_all(
            [
                Image(id="a" * 36, status="saving", owner="p"),
                Image(id="b" * 36, status="active", owner="p"),
                Image(id="c" * 36, status="queued", owner="p"),
                Image(id="d" * 36, status="importing", owner="p"),
                ImageTask(id="t1", type="api_image_import", status="processing", owner="p"),
                ImageTask(
                    id="t3",
                    type="api_image_import",
                    status="processing",
                    owner="p",
                    image_id="d" * 36,
                    input={"import_req": {"method": {"name": "web-download", "uri": "x"}}},
                ),
                ImageTask(id="t2", type="api_image_import", status="success", owner="p"),
            ]
        )
    assert recover(cfg, db) == (1, 1)
    assert store.leftovers() == []
    with db.session() as s:
        assert {i.id[0]: i.status for i in s.query(Image)} == {
            "a": "killed",
            "b": "active",
            "c": "queued",
            "d": "queued",
        }
        d = s.get(Image, "d" * 36)
        assert d is not None and d.extra["os_glance_failed_import"] == "fs"
        t1, t2 = s.get(ImageTask, "t1"), s.get(ImageTask, "t2")
        assert t1 is not None and t1.status == "failure" and "interrupted" in t1.message
        assert t1.expires_at is not None
        assert t2 is not None and t2.status == "success" and t2.message == ""
        t3 = s.get(ImageTask, "t3")
        assert t3 is not None and t3.status == "failure"
    assert recover(cfg, db) == (0, 0)
    db.dispose()
