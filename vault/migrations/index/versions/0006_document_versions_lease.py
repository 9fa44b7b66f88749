"""Document versions: a lease on each pending version, so that a crashed upload's
reservation does not block the document's next version until the sweeper's grace period,
and a partial index on pending versions, so that the sweeper does not read every row.

Revision 0006, after 0005. The column is nullable and only pending rows use it: adding
it rewrites no row on PostgreSQL (a catalogue change only). A pending row reserved
before this revision has none, and counts as lapsed at its creation: its upload ran on
a server of the previous version. Servers of the previous version that keep serving
during the upgrade reserve without a lease too; should another upload take such a
reservation over, the first one fails at its commit (ABORTED) and nothing of it becomes
visible. The index holds pending rows only (a handful at any time); building it reads
the table once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("document_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_until_us", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            "ix_document_versions_pending",
            ["created_us"],
            unique=False,
            postgresql_where=PENDING,
            sqlite_where=PENDING,
        )


def downgrade() -> None:
    with op.batch_alter_table("document_versions", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_document_versions_pending", postgresql_where=PENDING, sqlite_where=PENDING
        )
        batch_op.drop_column("lease_until_us")
