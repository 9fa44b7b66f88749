"""Page tokens (`vault.pagetokens`): their payloads byte by byte, the canonical encoding
of the queries they bind, and the refusal of anything this vault did not seal for this
query. The end-to-end cases (a token reused by another search, a forged one) are in
tests/server/test_documents.py and tests/server/test_journal_api.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vault.crypto.localkeys import LocalKeyFileProvider, create_key_file
from vault.domain.model import DocumentCategory, DocumentQuery, DocumentStatus
from vault.errors import InvalidArgumentError
from vault.index.base import Cursor
from vault.journal.store import EntryFilter
from vault.pagetokens import (
    DocumentPageToken,
    JournalPageToken,
    PageTokens,
    document_query_digest,
    document_query_encoding,
    journal_query_digest,
    journal_query_encoding,
)

DOSSIER = uuid.UUID("0190a4a0-0000-7000-8000-000000000001")
DOCUMENT = uuid.UUID("0190a4a0-0000-7000-8000-000000000002")
SEARCH = DocumentQuery(
    categories=frozenset({DocumentCategory.IMAGING, DocumentCategory.BIOLOGY}),
    type_codes=frozenset({"11502-2"}),
    author="10003456789",
    care_from=datetime(2024, 1, 1, tzinfo=UTC),
)


@pytest.fixture
def tokens(tmp_path: Path) -> PageTokens:
    create_key_file(tmp_path / "keys.json")
    return PageTokens(LocalKeyFileProvider(tmp_path / "keys.json"))


def test_a_document_query_encodes_canonically() -> None:
    assert document_query_encoding(SEARCH) == bytes.fromhex(
        "00000002" "00000007" + b"biology".hex() + "00000007" + b"imaging".hex()
        + "00000001" "00000007" + b"11502-2".hex()
        + "01" "0000000b" + b"10003456789".hex()
        + "01" "00060dd710212000"  # 2024-01-01T00:00:00Z, 1_704_067_200_000_000 µs
        + "00"
        + "00000001" "00000007" + b"current".hex()  # the default: current versions
        + "00"
    )  # fmt: skip
    assert document_query_digest(SEARCH).hex() == "b97848622dae0286e511fbe51bf0b3e2"
    assert document_query_encoding(DocumentQuery()).hex() == (
        "00000000000000000000000000000100000007" + b"current".hex() + "00"
    )


def test_a_document_query_digest_depends_on_each_filter_not_on_set_order() -> None:
    digests = {
        document_query_digest(query)
        for query in (
            SEARCH,
            DocumentQuery(),
            DocumentQuery(author="10003456789"),
            DocumentQuery(type_codes=frozenset({"10003456789"})),
            DocumentQuery(care_until=datetime(2024, 1, 1, tzinfo=UTC)),
            DocumentQuery(statuses=frozenset(DocumentStatus)),
            DocumentQuery(document_id=DOCUMENT),
        )
    }
    assert len(digests) == 7
    reordered = frozenset([DocumentCategory.BIOLOGY, DocumentCategory.IMAGING])
    assert document_query_digest(SEARCH) == document_query_digest(
        DocumentQuery(
            categories=reordered,
            type_codes=SEARCH.type_codes,
            author=SEARCH.author,
            care_from=SEARCH.care_from,
        )
    )


def test_a_journal_query_encodes_canonically_without_its_position() -> None:
    where = EntryFilter(dossier=str(DOSSIER), denials_only=True)
    assert journal_query_encoding(where) == bytes.fromhex(
        "01" "00000024" + str(DOSSIER).encode().hex() + "00" "00" "01"
    )  # fmt: skip
    assert journal_query_encoding(EntryFilter()) == bytes(4)
    assert journal_query_digest(where).hex() == "030a61d565b52cef47f1ca99ef3c3070"
    moved = EntryFilter(dossier=str(DOSSIER), denials_only=True, after_seq=42)
    assert journal_query_digest(moved) == journal_query_digest(where)
    assert journal_query_digest(EntryFilter(actor_ref=str(DOSSIER))) != journal_query_digest(
        EntryFilter(dossier=str(DOSSIER))
    )


def test_payloads_are_laid_out_byte_by_byte() -> None:
    cursor = Cursor(-5, DOCUMENT, 7)
    document = DocumentPageToken.after(DOSSIER, SEARCH, cursor).encode()
    assert document == (
        b"\x01"
        + DOSSIER.bytes
        + document_query_digest(SEARCH)
        + (-5).to_bytes(8, "big", signed=True)
        + DOCUMENT.bytes
        + (7).to_bytes(4, "big")
    )
    assert len(document) == DocumentPageToken.SIZE == 61
    where = EntryFilter(emergency_only=True)
    journal = JournalPageToken.after(9, 12, where).encode()
    assert journal == (
        b"\x02" + (9).to_bytes(8, "big") + (12).to_bytes(8, "big") + journal_query_digest(where)
    )
    assert len(journal) == JournalPageToken.SIZE == 33


def test_a_token_opens_to_what_was_sealed_for_its_query_only(tokens: PageTokens) -> None:
    cursor = Cursor(1_000, DOCUMENT, 2)
    sealed = tokens.seal(DocumentPageToken.after(DOSSIER, SEARCH, cursor))
    opened = tokens.open(sealed, DocumentPageToken)
    assert opened.resume(DOSSIER, SEARCH) == cursor
    with pytest.raises(InvalidArgumentError, match="another query"):
        opened.resume(DOSSIER, DocumentQuery())
    with pytest.raises(InvalidArgumentError, match="another query"):
        opened.resume(DOCUMENT, SEARCH)
    where = EntryFilter(denials_only=True)
    journal = tokens.open(tokens.seal(JournalPageToken.after(3, 8, where)), JournalPageToken)
    assert journal.resume(where) == EntryFilter(denials_only=True, after_seq=3)
    assert journal.last_seq == 8
    with pytest.raises(InvalidArgumentError, match="another query"):
        journal.resume(EntryFilter())


def test_forged_truncated_or_foreign_tokens_are_refused(tokens: PageTokens) -> None:
    sealed = tokens.seal(DocumentPageToken.after(DOSSIER, SEARCH, Cursor(1, DOCUMENT, 1)))
    journal = tokens.seal(JournalPageToken.after(1, 2, EntryFilter()))
    for bad in (sealed[:-4] + "AAAA", sealed[:-2], sealed + "AA", "***", "", journal):
        with pytest.raises(InvalidArgumentError):
            tokens.open(bad, DocumentPageToken)
    with pytest.raises(InvalidArgumentError):
        tokens.open(sealed, JournalPageToken)
