"""migrations: one row per move of a server (Nova's migrations table)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 16:45:00

Resizes already under way keep their source claim `migration:<instance uuid>`: each
gets its record here, with that uuid, so the claim is the record's (one id, not two).
A resize waiting for confirmation is `finished`, one being reverted `reverting`; any
other left-over claim belongs to a resize that did not end (`error`).
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

PREFIX = "migration:"


def upgrade() -> None:
    migrations = op.create_table(
        "migrations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("source_compute", sa.String(length=255), nullable=True),
        sa.Column("dest_compute", sa.String(length=255), nullable=True),
        sa.Column("source_node", sa.String(length=255), nullable=True),
        sa.Column("dest_node", sa.String(length=255), nullable=True),
        sa.Column("dest_host", sa.String(length=255), nullable=True),
        sa.Column("old_instance_type_id", sa.Integer(), nullable=True),
        sa.Column("new_instance_type_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=255), nullable=False),
        sa.Column("migration_type", sa.String(length=32), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("memory_total", sa.BigInteger(), nullable=True),
        sa.Column("memory_processed", sa.BigInteger(), nullable=True),
        sa.Column("memory_remaining", sa.BigInteger(), nullable=True),
        sa.Column("disk_total", sa.BigInteger(), nullable=True),
        sa.Column("disk_processed", sa.BigInteger(), nullable=True),
        sa.Column("disk_remaining", sa.BigInteger(), nullable=True),
        sa.Column("cross_cell_move", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_uuid"],
            ["instances.uuid"],
            name=op.f("fk_migrations_instance_uuid_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_migrations")),
        sa.UniqueConstraint("uuid", name=op.f("uq_migrations_uuid")),
    )
    with op.batch_alter_table("migrations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_migrations_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_migrations_instance_uuid"), ["instance_uuid"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_migrations_status"), ["status"], unique=False)
    rows = _resizes_under_way()
    if rows:
        op.bulk_insert(migrations, rows)


def _resizes_under_way() -> list[dict]:
    bind = op.get_bind()
    allocations = sa.table("allocations", sa.column("consumer_id", sa.String))
    instances = sa.table(
        "instances",
        *(sa.column(n, sa.String) for n in ("uuid", "host", "node", "vm_state", "task_state")),
        *(sa.column(n, sa.String) for n in ("user_id", "project_id")),
        sa.column("flavor", sa.JSON),
        sa.column("old_flavor", sa.JSON),
        sa.column("new_flavor", sa.JSON),
        sa.column("deleted", sa.Boolean),
    )
    held = bind.execute(
        sa.select(allocations.c.consumer_id)
        .where(allocations.c.consumer_id.like(PREFIX + "%"))
        .distinct()
    ).scalars()
    uuids = sorted({c[len(PREFIX) :] for c in held})
    if not uuids:
        return []
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    found = bind.execute(
        sa.select(instances).where(instances.c.uuid.in_(uuids), instances.c.deleted.is_(False))
    ).all()
    return [_record(bind, inst, now) for inst in found]


def _record(bind: sa.Connection, inst: sa.Row, now: dt.datetime) -> dict:
    if inst.vm_state == "resized" and inst.task_state is None:
        status = "finished"
    elif inst.task_state == "resize_reverting":
        status = "reverting"
    else:
        status = "error"
    old = inst.old_flavor or inst.flavor or {}
    new = inst.flavor if inst.old_flavor else (inst.new_flavor or inst.flavor)
    return {
        "uuid": inst.uuid,
        "source_compute": inst.host,
        "dest_compute": inst.host,
        "source_node": inst.node,
        "dest_node": inst.node,
        "dest_host": _host_ip(bind, inst.host),
        "old_instance_type_id": _flavor_id(bind, old),
        "new_instance_type_id": _flavor_id(bind, new or {}),
        "status": status,
        "migration_type": "resize",
        "hidden": False,
        "instance_uuid": inst.uuid,
        "cross_cell_move": False,
        "user_id": inst.user_id,
        "project_id": inst.project_id,
        "created_at": now,
        "updated_at": now,
        "deleted": False,
    }


def _flavor_id(bind: sa.Connection, flavor: dict) -> int | None:
    flavors = sa.table("flavors", sa.column("id", sa.Integer), sa.column("flavorid", sa.String))
    ref = flavor.get("flavorid")
    if ref is None:
        return None
    return bind.scalar(sa.select(flavors.c.id).where(flavors.c.flavorid == str(ref)))


def _host_ip(bind: sa.Connection, host: str | None) -> str | None:
    nodes = sa.table("compute_nodes", sa.column("host", sa.String), sa.column("host_ip", sa.String))
    if host is None:
        return None
    return bind.scalar(sa.select(nodes.c.host_ip).where(nodes.c.host == host))


def downgrade() -> None:
    # Its indexes go with it (MariaDB refuses to drop one a foreign key needs).
    op.drop_table("migrations")
