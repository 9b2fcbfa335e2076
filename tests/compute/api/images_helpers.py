"""Helpers of the image proxy tests: images made through the Image API."""

from __future__ import annotations

from typing import Any

from tests.compute.api.conftest import Cloud
from tests.image.conftest import create, upload


def new_image(cloud: Cloud, headers: dict, data: bytes | None = b"*" * 1024, **body: Any) -> dict:
    """An image made through the Image API (active once `data` is uploaded)."""
    img = create(cloud, headers, **body)
    if data is not None:
        r = upload(cloud, headers, img["id"], data)
        assert r.status_code == 204, r.text
    return img


def ids(body: dict) -> list[str]:
    return [i["id"] for i in body["images"]]
