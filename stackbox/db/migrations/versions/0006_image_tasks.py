"""image: import task records (Glance's tasks)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 16:22:36.910562
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image_tasks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("input", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("image_id", sa.String(length=36), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_tasks")),
    )
    with op.batch_alter_table("image_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_image_tasks_image_id"), ["image_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_image_tasks_owner"), ["owner"], unique=False)


def downgrade() -> None:
    # Indexes go with their table.
    op.drop_table("image_tasks")
