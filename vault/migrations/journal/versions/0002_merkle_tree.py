"""The journal's Merkle tree (ADR 0027): its size, and its stored nodes.

Revision 0002: two new tables, nothing else changed, so it only adds (`expands_only`):
older servers keep running on it. `journal_merkle_tree` holds one row, the number of
leaves the stored nodes cover; `journal_merkle_nodes` the hash of each complete perfect
subtree at levels 8, 16, 24... (vault/journal/tree.py). Both fill as the checkpointer
signs; an upgraded journal starts with an empty tree that the first checkpoint builds.
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
        "journal_merkle_tree",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "journal_merkle_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
    )


def downgrade() -> None:
    op.drop_table("journal_merkle_nodes")
    op.drop_table("journal_merkle_tree")
