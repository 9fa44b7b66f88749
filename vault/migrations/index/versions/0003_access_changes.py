"""The access changes: an append-only trail of who stood in which relation to a dossier.

Revision 0003, after 0002. `dossier_access` keeps only the current relations (a revoked
authorisation, a lifted block, a replaced treating physician are deleted), and the
journal entry of an access change names the dossier, not whom it concerned. The new
table `access_changes` records each relation set or removed, with its time, expiry,
emergency reason and the request id of the journal entry that decided it, written in
the same transaction as the change. Existing relations (first accesses aside) are
recorded as set when they were created, with the request id `revision-0003`: the trail
starts from what the vault knew at the upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "access_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("dossier_id", sa.Uuid(), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("change", sa.String(length=8), nullable=False),
        sa.Column("changed_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_us", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.String(length=32), nullable=True),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("access_changes", schema=None) as batch_op:
        batch_op.create_index("ix_access_changes_dossier", ["dossier_id", "id"], unique=False)
    op.execute(
        "INSERT INTO access_changes"
        " (dossier_id, relation, subject, change, changed_us, expires_us, detail, request_id)"
        " SELECT dossier_id, relation, subject, 'set', created_us, expires_us, detail,"
        " 'revision-0003' FROM dossier_access WHERE relation <> 'seen'"
        " ORDER BY created_us, dossier_id, relation, subject"
    )


def downgrade() -> None:
    with op.batch_alter_table("access_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_access_changes_dossier")

    op.drop_table("access_changes")
