"""The index's tables as SQLAlchemy Core handles, and the predicates several roles share.

The tables are declared in vault/index/schema.py (and changed by vault/migrations); this
module only names them for the queries of `vault.index.sql`, and states once the
predicates on a pending version row that both the write order (`documents`) and the
sweeper (`sweep`) use. No query runs here, and no row is mapped (that is `mapping`).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import ColumnElement, Table, and_, func

from vault.index.records import VersionRecord
from vault.index.schema import (
    AccessChangeRow,
    CareTeamMemberRow,
    CareTeamRow,
    DestructionRow,
    DocumentRow,
    DocumentVersionRow,
    DocumentVisibilityRow,
    DossierAccessRow,
    DossierKeyRow,
    DossierRow,
    LegalHoldRow,
    NotificationRow,
)

D, K, DOC, V, VIS, ACC, CHANGES, N, HOLD, DESTROY = (
    cast(Table, row.__table__)
    for row in (
        DossierRow,
        DossierKeyRow,
        DocumentRow,
        DocumentVersionRow,
        DocumentVisibilityRow,
        DossierAccessRow,
        AccessChangeRow,
        NotificationRow,
        LegalHoldRow,
        DestructionRow,
    )
)
TEAMS, MEMBERS = cast(Table, CareTeamRow.__table__), cast(Table, CareTeamMemberRow.__table__)


def lapsed_before(moment_us: int, unleased_us: int) -> ColumnElement[bool]:
    """A pending row's lease ended before `moment_us`; a row without a lease (reserved
    by a server older than revision 0006) holds `unleased_us` from its creation."""
    ends = func.coalesce(V.c.lease_until_us, V.c.created_us + unleased_us)
    return ends < moment_us


def pending_number(record: VersionRecord) -> ColumnElement[bool]:
    """The pending row of `record`'s version number, whichever upload reserved it."""
    return and_(
        V.c.document_id == record.document_id,
        V.c.version == record.version,
        V.c.status == "pending",
    )


def reservation(record: VersionRecord) -> ColumnElement[bool]:
    """The pending row this upload reserved: its number and its blob key."""
    return and_(pending_number(record), V.c.blob_key == record.blob_key)
