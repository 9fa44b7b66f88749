"""The journal as vaults made it before migrations (`create_all` of vault/journal/sql.py).

Revision 0001, the first: a database that has these tables and no version table is
stamped 0001 by `dossier-vault db upgrade`, then upgraded. The head row is not created
here: `SqlJournal.create_schema` adds it when missing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "journal_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("time_us", sa.BigInteger(), nullable=False),
        sa.Column("dossier", sa.String(length=36), nullable=True),
        sa.Column("actor_ref", sa.String(length=128), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("entry_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_journal_dossier", "journal_entries", ["dossier", "seq"])
    op.create_index("ix_journal_actor", "journal_entries", ["actor_ref", "seq"])
    op.create_index("ix_journal_time", "journal_entries", ["time_us"])
    emergency = sa.text("emergency")
    op.create_index(
        "ix_journal_emergency",
        "journal_entries",
        ["seq"],
        postgresql_where=emergency,
        sqlite_where=emergency,
    )
    denials = sa.text("decision = 'deny'")
    op.create_index(
        "ix_journal_denials",
        "journal_entries",
        ["seq"],
        postgresql_where=denials,
        sqlite_where=denials,
    )
    op.create_table(
        "journal_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("time_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "journal_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("size"),
    )


def downgrade() -> None:
    for table in ("journal_checkpoints", "journal_head", "journal_entries"):
        op.drop_table(table)  # their indexes go with them
