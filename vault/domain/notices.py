"""Which notices the holder gets that they asked for (issue 15, item 9): a new document
deposited in their dossier (opt-in, per dossier), and a legal representative's rights
ended. The other notices (first access, emergency access, a held-back document's coming
release and release, a block lifted) are always sent, by the use cases that cause them.

Pure: plain values in, a notice (or None) out; the index queues it in the transaction
that commits the document (vault/index/sql/notices.py), the access use case after the
removal it announces.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from vault.domain.model import Notification, NotificationKind, Visibility


@dataclass(frozen=True, slots=True)
class NoticePreferences:
    """What the holder asked to be told, beyond what is always sent."""

    new_documents: bool = False


@dataclass(frozen=True, slots=True)
class Deposit:
    """A document version just committed: enough to decide whether to announce it."""

    dossier_id: uuid.UUID
    document_id: uuid.UUID
    version: int
    visibility: Visibility
    author: str  # as the journal names the writer
    created_us: int


def deposit_notice(
    deposit: Deposit, holder_ref: str, preferences: NoticePreferences
) -> Notification | None:
    """The notice of a new document, or None: the holder did not opt in; it is a new
    version of a known document, not a new one; the holder deposited it themself; or it
    is held back from them (its release is announced instead, `release_notice`). A
    minor's confidential care is announced too: the outbox shows representatives no
    notice about such a document."""
    if not preferences.new_documents or deposit.version != 1:
        return None
    if deposit.author == holder_ref or deposit.visibility & Visibility.HIDDEN_FROM_PATIENT:
        return None
    return Notification(
        deposit.dossier_id,
        NotificationKind.DOCUMENT_DEPOSITED,
        str(deposit.document_id),
        deposit.created_us,
        "",
    )


def representative_ended(
    dossier_id: uuid.UUID, representative: str, ended_us: int, request_id: str
) -> Notification:
    """The notice that a legal representative (`ins-hmac:…`) no longer acts for the
    holder."""
    return Notification(
        dossier_id, NotificationKind.REPRESENTATIVE_ENDED, representative, ended_us, request_id
    )
