"""The notices the holder asks for (issue 15, item 9): which deposits are announced to
a holder who opted in, and the notice of a representative's rights ended."""

from __future__ import annotations

import uuid

import pytest

from vault.domain.model import NotificationKind, Visibility
from vault.domain.notices import Deposit, NoticePreferences, deposit_notice, representative_ended

HOLDER = "ins-hmac:aa"
ON, OFF = NoticePreferences(new_documents=True), NoticePreferences()
DOSSIER, DOCUMENT = uuid.uuid4(), uuid.uuid4()


def _deposit(
    version: int = 1, visibility: Visibility = Visibility.NORMAL, author: str = "10000000017"
) -> Deposit:
    return Deposit(DOSSIER, DOCUMENT, version, visibility, author, 5)


HELD, MASKED, SECRET = (
    Visibility.HIDDEN_FROM_PATIENT,
    Visibility.MASKED_FROM_PROFESSIONALS,
    Visibility.HIDDEN_FROM_REPRESENTATIVES,
)
ROWS = [
    ("a professional's new document, opted in", _deposit(), ON, True),
    ("a professional's new document, not opted in", _deposit(), OFF, False),
    ("a new version of a known document", _deposit(version=2), ON, False),
    ("the holder's own document", _deposit(author=HOLDER), ON, False),
    ("a document held back from the holder", _deposit(visibility=HELD), ON, False),
    ("a masked document", _deposit(visibility=MASKED), ON, True),
    ("a minor's secret care (the holder's notice only)", _deposit(visibility=SECRET), ON, True),
    ("a representative's document", _deposit(author="ins-hmac:bb"), ON, True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("deposit", "preferences", "announced"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_deposit_notice_table(
    deposit: Deposit, preferences: NoticePreferences, announced: bool
) -> None:
    notice = deposit_notice(deposit, HOLDER, preferences)
    assert (notice is not None) == announced
    if notice is not None:
        assert (notice.kind, notice.subject) == (NotificationKind.DOCUMENT_DEPOSITED, str(DOCUMENT))


def test_a_representatives_end_names_them_as_the_journal_does() -> None:
    notice = representative_ended(DOSSIER, "ins-hmac:bb", 7, "r-1")
    assert (notice.kind, notice.subject, notice.request_id) == (
        NotificationKind.REPRESENTATIVE_ENDED,
        "ins-hmac:bb",
        "r-1",
    )
