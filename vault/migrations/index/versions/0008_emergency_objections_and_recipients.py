"""Emergencies: the patient's objection to the SAMU regulator's access, apart from the
objection to break-the-glass (`dossiers.regulation_refused`), and notices addressed to a
professional (`notifications.recipient`: the treating physician told of an emergency
access; NULL, every notice before this revision, is the patient side's).

Revision 0008, after 0007. Existing dossiers keep their single setting's meaning: a
patient who refused emergency access refused the regulator too (the regulator was one
of the two specialties that broke the glass), so `regulation_refused` starts as a copy
of `emergency_refused` (one UPDATE of the dossiers that refused: few rows).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("regulation_refused", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute("UPDATE dossiers SET regulation_refused = emergency_refused WHERE emergency_refused")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("recipient")
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.drop_column("regulation_refused")
