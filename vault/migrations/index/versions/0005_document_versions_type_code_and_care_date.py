"""Document versions: the LOINC type code and the date of care, for searches.

Revision 0005, after 0004. Both columns are nullable: versions stored before this
revision have neither, and searches filtering on them leave those out. Adding nullable
columns without a default rewrites no row on PostgreSQL (a catalogue change only).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("document_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("type_code", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("care_us", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("document_versions", schema=None) as batch_op:
        batch_op.drop_column("care_us")
        batch_op.drop_column("type_code")
