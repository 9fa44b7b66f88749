"""Care teams: `care_teams` (one row per team a patient let into a dossier, its name
sealed under the dossier key, kept when removed as its own trail) and
`care_team_members` (RPPS numbers and structure identifiers, looked up by dossier and
member at each professional's request).

Revision 0007, after 0006. Two new tables: nothing existing is rewritten.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "care_teams",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dossier_id", sa.Uuid(), nullable=False),
        sa.Column("sealed_name", sa.LargeBinary(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_us", sa.BigInteger(), nullable=False),
        sa.Column("created_request", sa.String(length=36), nullable=False),
        sa.Column("removed_us", sa.BigInteger(), nullable=True),
        sa.Column("removed_request", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["dossier_id"], ["dossiers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("care_teams", schema=None) as batch_op:
        batch_op.create_index("ix_care_teams_dossier", ["dossier_id", "created_us"], unique=False)
    op.create_table(
        "care_team_members",
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("member", sa.String(length=14), nullable=False),
        sa.Column("dossier_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["dossier_id"], ["dossiers.id"]),
        sa.ForeignKeyConstraint(["team_id"], ["care_teams.id"]),
        sa.PrimaryKeyConstraint("team_id", "member"),
    )
    with op.batch_alter_table("care_team_members", schema=None) as batch_op:
        batch_op.create_index("ix_care_team_members_lookup", ["dossier_id", "member"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("care_team_members", schema=None) as batch_op:
        batch_op.drop_index("ix_care_team_members_lookup")
    op.drop_table("care_team_members")
    with op.batch_alter_table("care_teams", schema=None) as batch_op:
        batch_op.drop_index("ix_care_teams_dossier")
    op.drop_table("care_teams")
