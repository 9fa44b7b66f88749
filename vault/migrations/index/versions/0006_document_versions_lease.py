"""Document versions: a lease on each pending version, so that a crashed upload's
reservation does not block the document's next version until the sweeper's grace period,
and a partial index on pending versions, so that the sweeper does not read every row.

Revision 0006, after 0005. The column is nullable and only pending rows use it: adding
it rewrites no row on PostgreSQL (a catalogue change only). A pending row without a
lease (reserved before this revision, or during the upgrade by a server of the previous
version, which never renews) holds one lease from its creation; should another upload
take it over after that, the first upload fails at its commit (NOT_FOUND, from a server
of the previous version) and nothing of it becomes visible. The index holds pending
rows only (a handful at any time), but building it reads the whole table, and on
PostgreSQL `CREATE INDEX` blocks writes to `document_versions` meanwhile (the time to
read the table): on a large index database, upgrade in a quiet hour.
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
