"""A dossier's live content bytes kept in its row (issue 22): the dossier quota's check
on every upload reads one row instead of summing the versions of every document.

Revision 0014, after 0013. One column, filled from the versions (each document's latest
committed one; pending and replaced versions never count). Not to apply while a server
of the previous version writes: its commits and deletions would not move the total
(stop the writers, migrate, start the new version).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("content_bytes", sa.BigInteger(), nullable=False, server_default=sa.text("0"))
        )
    op.execute(
        "UPDATE dossiers SET content_bytes = COALESCE(("
        " SELECT SUM(v.size) FROM documents d JOIN document_versions v"
        " ON v.document_id = d.id AND v.version = d.latest_version"
        " WHERE d.dossier_id = dossiers.id), 0)"
    )


def downgrade() -> None:
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.drop_column("content_bytes")
