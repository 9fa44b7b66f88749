"""The dossier lifecycle: closure, conservation deadlines, legal holds, destructions.

Revision 0002, after 0001. Adds to `dossiers` the closure time and reason, the
destruction deadline and a count of legal holds in force, with a partial index on the
deadline of closed, unheld dossiers (finding what is due costs what is due); the
history of legal holds; the destructions (manifest, then certificate: the tombstone);
and an index on documents by category and age for rolling retention windows. Existing
dossiers are active: the new columns start empty (holds at 0).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "destructions",
        sa.Column("dossier_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("started_us", sa.BigInteger(), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("completed_us", sa.BigInteger(), nullable=True),
        sa.Column("certificate", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
        ),
        sa.PrimaryKeyConstraint("dossier_id"),
    )
    op.create_table(
        "legal_holds",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("dossier_id", sa.Uuid(), nullable=False),
        sa.Column("placed_us", sa.BigInteger(), nullable=False),
        sa.Column("placed_by", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("released_us", sa.BigInteger(), nullable=True),
        sa.Column("released_by", sa.String(length=80), nullable=True),
        sa.Column("release_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.create_index("ix_legal_holds_dossier", ["dossier_id"], unique=False)

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index("ix_documents_age", ["category", "created_us"], unique=False)

    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_us", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("closure_reason", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("destroy_after_us", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("holds", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.create_index(
            "ix_dossiers_due",
            ["destroy_after_us"],
            unique=False,
            postgresql_where=sa.text("state = 'closed' AND holds = 0"),
            sqlite_where=sa.text("state = 'closed' AND holds = 0"),
        )


def downgrade() -> None:
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_dossiers_due",
            postgresql_where=sa.text("state = 'closed' AND holds = 0"),
            sqlite_where=sa.text("state = 'closed' AND holds = 0"),
        )
        batch_op.drop_column("holds")
        batch_op.drop_column("destroy_after_us")
        batch_op.drop_column("closure_reason")
        batch_op.drop_column("closed_us")

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_age")

    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_legal_holds_dossier")

    op.drop_table("legal_holds")
    op.drop_table("destructions")
