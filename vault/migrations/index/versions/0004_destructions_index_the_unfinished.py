"""Destructions: a partial index on those not completed.

Revision 0004, after 0003. Each retention run starts with the destructions an interrupted
run left unfinished; `destructions` keeps one row per destroyed dossier forever, so
without this index that query would read the whole table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("destructions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_destructions_unfinished",
            ["started_us"],
            unique=False,
            postgresql_where=sa.text("completed_us IS NULL"),
            sqlite_where=sa.text("completed_us IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("destructions", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_destructions_unfinished",
            postgresql_where=sa.text("completed_us IS NULL"),
            sqlite_where=sa.text("completed_us IS NULL"),
        )
