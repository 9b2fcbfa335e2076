"""the cloud's identity: one row with the id that names and marks its libvirt domains

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 16:40:00

The row is made here, once per database: instances that exist already keep Nova's
`instance-%08x` domain names (legacy_names_upto = their highest id).
"""

import datetime as dt
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    cloud = op.create_table(
        "cloud",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cloud_id", sa.String(length=32), nullable=False),
        sa.Column("legacy_names_upto", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cloud")),
        sa.UniqueConstraint("cloud_id", name=op.f("uq_cloud_cloud_id")),
    )
    upto = op.get_bind().scalar(sa.text("SELECT MAX(id) FROM instances")) or 0
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    op.bulk_insert(
        cloud,
        [{"id": 1, "cloud_id": uuid.uuid4().hex, "legacy_names_upto": upto, "created_at": now}],
    )


def downgrade() -> None:
    op.drop_table("cloud")
