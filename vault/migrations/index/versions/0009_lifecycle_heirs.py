"""Heirs' access to a deceased holder's documents (issue 15, item 4): the grants an
operator records (`heir_grants`) and the holder's objection while alive
(`posthumous_objections`).

Revision 0009, after 0008. Two new tables, nothing rewritten: safe to apply while the
previous version serves (it never reads them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "heir_grants",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("dossier_id", sa.Uuid(), nullable=False),
        sa.Column("heir", sa.String(length=80), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("request_reference", sa.String(length=200), nullable=False),
        sa.Column("granted_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_us", sa.BigInteger(), nullable=False),
        sa.Column("granted_by", sa.String(length=80), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["dossier_id"], ["dossiers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_heir_grants_dossier_heir", "heir_grants", ["dossier_id", "heir"], unique=False
    )
    op.create_table(
        "posthumous_objections",
        sa.Column("dossier_id", sa.Uuid(), nullable=False),
        sa.Column("recorded_us", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["dossier_id"], ["dossiers.id"]),
        sa.PrimaryKeyConstraint("dossier_id"),
    )


def downgrade() -> None:
    op.drop_table("posthumous_objections")
    op.drop_index("ix_heir_grants_dossier_heir", table_name="heir_grants")
    op.drop_table("heir_grants")
