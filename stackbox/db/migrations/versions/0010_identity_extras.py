"""identity: credentials, v3 policies, domain configs, endpoint groups, OAuth1 consumers, trusts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 16:29:38.536064
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("encrypted_blob", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
    )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credentials_user_id"), ["user_id"], unique=False)

    op.create_table(
        "endpoint_groups",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endpoint_groups")),
    )
    op.create_table(
        "identity_policies",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("blob", sa.Text(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_policies")),
    )
    op.create_table(
        "oauth_consumers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("encrypted_secret", sa.Text(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_consumers")),
    )
    op.create_table(
        "trusts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("trustor_user_id", sa.String(length=64), nullable=False),
        sa.Column("trustee_user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("impersonation", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("remaining_uses", sa.Integer(), nullable=True),
        sa.Column("redelegation_count", sa.Integer(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trusts")),
    )
    with op.batch_alter_table("trusts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trusts_project_id"), ["project_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_trusts_trustee_user_id"), ["trustee_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_trusts_trustor_user_id"), ["trustor_user_id"], unique=False
        )

    op.create_table(
        "domain_config_options",
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("group", sa.String(length=255), nullable=False),
        sa.Column("option", sa.String(length=255), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["domains.id"],
            name=op.f("fk_domain_config_options_domain_id_domains"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "domain_id", "group", "option", name=op.f("pk_domain_config_options")
        ),
    )
    op.create_table(
        "project_endpoint_groups",
        sa.Column("endpoint_group_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_group_id"],
            ["endpoint_groups.id"],
            name=op.f("fk_project_endpoint_groups_endpoint_group_id_endpoint_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "endpoint_group_id", "project_id", name=op.f("pk_project_endpoint_groups")
        ),
    )
    with op.batch_alter_table("project_endpoint_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_project_endpoint_groups_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "trust_roles",
        sa.Column("trust_id", sa.String(length=64), nullable=False),
        sa.Column("role_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["trust_id"],
            ["trusts.id"],
            name=op.f("fk_trust_roles_trust_id_trusts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("trust_id", "role_id", name=op.f("pk_trust_roles")),
    )


def downgrade() -> None:
    # Indexes go with their tables.
    for table in (
        "trust_roles",
        "project_endpoint_groups",
        "domain_config_options",
        "trusts",
        "oauth_consumers",
        "identity_policies",
        "endpoint_groups",
        "credentials",
    ):
        op.drop_table(table)
