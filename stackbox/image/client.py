"""The Image service's internal client: what another service in this process (the
Compute API's image proxy) may ask of images, on behalf of the request it is serving.

Every call runs with that request's context and database session, through the Image
API's own code: its visibility rules (what a project may see), its policies
(`get_image`, `get_images`, `modify_image`, `delete_image`), its property protections
and its checks of property names and values. No other service reads or writes the
image tables; it asks here and gets plain `ImageInfo` records back, never rows.

Failures are this module's exceptions (`ImageNotFound`, `ImageNotAuthorized`,
`ImageBadRequest`), for the caller to word in its own API's terms, as Nova does with
what glanceclient raises."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from starlette.datastructures import QueryParams

from stackbox.api import errors
from stackbox.api.framework import Req
from stackbox.image.api import attrs, common, images, listing, patch
from stackbox.image.models import Image

# Extra-property names that are core attributes of an image: never metadata.
CORE_NAMES = frozenset({*attrs.SETTABLE, "tags"})


class ImageClientError(Exception):
    """Base of what the client raises; `message` is the Image service's explanation."""

    def __init__(self, image_id: str | None, message: str) -> None:
        self.image_id, self.message = image_id, message
        super().__init__(message)


class ImageNotFound(ImageClientError):
    """No image by that id, or none the caller may see."""


class ImageNotAuthorized(ImageClientError):
    """The Image service's policy (or a protection) forbids the change."""


class ImageBadRequest(ImageClientError):
    """The Image service refused the parameters or values."""


@dataclass(frozen=True)
class ImageInfo:
    """An image as the caller may see it; `properties` are its extra properties the
    caller may read."""

    id: str
    name: str | None
    status: str
    visibility: str
    owner: str | None
    size: int | None
    min_ram: int
    min_disk: int
    protected: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    properties: dict[str, str]


@contextmanager
def _translated(image_id: str | None) -> Iterator[None]:
    try:
        yield
    except errors.NotFound as exc:
        raise ImageNotFound(image_id, exc.message) from exc
    except errors.Forbidden as exc:
        raise ImageNotAuthorized(image_id, exc.message) from exc
    except (errors.BadRequest, errors.Conflict, errors.PayloadTooLarge) as exc:
        raise ImageBadRequest(image_id, exc.message) from exc


class ImageClient:
    """Images on behalf of `req` (its context, session, configuration and policies)."""

    def __init__(self, req: Req) -> None:
        self._req = req

    def public_url(self) -> str:
        """The Image API's public endpoint (the catalog's `image` URL)."""
        return self._req.state.cfg.public_url + "/image"

    def get(self, image_id: str) -> ImageInfo:
        req = self._req
        with _translated(image_id):
            img = common.get_image(req, image_id)
            common.authorize(req, "get_image", img)
            return self._info(img)

    def list(self, params: Sequence[tuple[str, str]]) -> list[ImageInfo]:
        """One page of `GET /v2/images` with Glance's query parameters `params` (filters,
        `limit`, `marker`; the default sort, newest first)."""
        req = self._req
        with _translated(None):
            req.authorize("get_images", {"project_id": req.context.project_id})
            found, _ = listing.page(req, QueryParams(list(params)))
            return [self._info(img) for img in found]

    def set_properties(self, image_id: str, properties: Mapping[str, str]) -> ImageInfo:
        """Make the image's readable extra properties exactly `properties` (properties
        the caller may not read are kept), as a JSON patch of the difference would."""
        req = self._req
        with _translated(image_id):
            img = common.get_image(req, image_id)
            common.authorize(req, "modify_image", img)
            current = self._readable(img)
            ops = [patch.Op("remove", k) for k in current if k not in properties]
            for name, value in properties.items():
                if name in CORE_NAMES:
                    raise errors.Forbidden(f"Attribute '{name}' is not an extra property.")
                if current.get(name) != value:
                    ops.append(patch.Op("replace" if name in current else "add", name, value))
            if ops:
                patch.apply(req, img, ops)
                common.touch(img)
                req.db.flush()
            return self._info(img)

    def create(self, attributes: Mapping[str, object], properties: Mapping[str, str]) -> ImageInfo:
        """Add a queued image (no data yet) with core `attributes` (`id`, `name`,
        `disk_format`, `owner`, ...) and extra `properties`, as POST /v2/images would:
        its policy, visibility rules and property protections apply. Flushed into the
        request's transaction, not committed."""
        extra = {k: v for k, v in properties.items() if k not in CORE_NAMES}
        with _translated(str(attributes["id"]) if attributes.get("id") else None):
            img = images.new_image(self._req, {**extra, **attributes}, self._req.db)
            return self._info(img)

    def delete(self, image_id: str) -> None:
        """Delete the image (and its data); commits the request's transaction."""
        with _translated(image_id):
            images.delete_image(self._req, image_id)

    def _readable(self, img: Image) -> dict[str, str]:
        return {k: v for k, v in img.extra.items() if common.prop_allowed(self._req, k, "read")}

    def _info(self, img: Image) -> ImageInfo:
        return ImageInfo(
            id=img.id,
            name=img.name,
            status=img.status,
            visibility=img.visibility,
            owner=img.owner,
            size=img.size,
            min_ram=img.min_ram or 0,
            min_disk=img.min_disk or 0,
            protected=bool(img.protected),
            created_at=img.created_at,
            updated_at=img.updated_at,
            properties=self._readable(img),
        )
