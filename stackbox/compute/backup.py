"""Backups (Nova's createBackup on the host): a snapshot like createImage's into the
image the API created (`image_type=backup`, `backup_type`), then rotation: the backups
of this instance and backup type, newest first, beyond `rotation` are deleted through
the Image API (rotation 0 deletes every one, the new one included, as Nova does). A
backup that cannot be deleted is logged and the others still go.

Not here: the snapshot itself (snapshot.py), image records (the API created this one;
the Image API deletes the old ones)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from stackbox.compute import snapshot
from stackbox.compute import states as st

if TYPE_CHECKING:
    from stackbox.compute.manager import Context

LOG = logging.getLogger(__name__)


async def backup_instance(
    ctx: Context, instance: dict[str, Any], image_id: str, backup_type: str, rotation: int
) -> None:
    """Snapshot, report the instance free again, then rotate (as Nova orders them)."""
    values = await snapshot.snapshot_instance(ctx, instance, image_id, [st.IMAGE_BACKUP])
    await ctx.update(instance["uuid"], values, [st.IMAGE_UPLOADING])
    await rotate_backups(ctx, instance, backup_type, rotation)


async def rotate_backups(
    ctx: Context, instance: dict[str, Any], backup_type: str, rotation: int
) -> list[str]:
    """Delete the instance's `backup_type` backups beyond the newest `rotation`;
    returns the ids deleted."""
    uuid, project, user = instance["uuid"], instance["project_id"], instance["user_id"]
    params = {
        "image_type": "backup",
        "backup_type": backup_type,
        "instance_uuid": uuid,
        "sort_key": "created_at",
        "sort_dir": "desc",
    }
    images = await ctx.uploader.list_images(params, project, user)
    excess = [str(img["id"]) for img in images[max(rotation, 0) :]]
    LOG.debug("instance %s: %d %s backups, rotation %d", uuid, len(images), backup_type, rotation)
    deleted = []
    for image_id in reversed(excess):  # oldest first
        if await ctx.uploader.delete(image_id, project, user):
            deleted.append(image_id)
        else:
            LOG.info("instance %s: backup %s not rotated out; going on", uuid, image_id)
    return deleted
