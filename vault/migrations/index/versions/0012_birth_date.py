"""The holder's date of birth, sealed under the dossier key (issue 15, item 3): when a
legal representative's rights end.

Revision 0012, after 0011. One new table, nothing rewritten: safe to apply while the
previous version serves (it never reads it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "birth_dates",
        sa.Column("dossier_id", sa.Uuid(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["dossier_id"], ["dossiers.id"]),
        sa.PrimaryKeyConstraint("dossier_id"),
    )


def downgrade() -> None:
    op.drop_table("birth_dates")
