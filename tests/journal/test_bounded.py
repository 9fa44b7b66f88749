"""Journal entries are bounded (docs/format.md, "Journal entry v1", "Maximum size";
ADR 0045): the largest entry the vault can build fits, one byte over the limit is refused
by every reader, an event that would not fit is refused where it is built, and a set of
documents by digest is what an auditor rebuilds from the copy's lines."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import replace

import pytest

from tests.journal.test_chain import EVENT
from tools.journal_vectors import raw_line
from vault.claims import MAX_CODE_LENGTH, MAX_SUBJECT_LENGTH
from vault.domain.validation import MAX_PAGE_SIZE
from vault.errors import IntegrityError, JournalEntryTooLargeError
from vault.journal.canonical import MAX_ENTRY_BYTES, MAX_INT, NotCanonicalError, check_canonical
from vault.journal.chain import canonical_bytes, parse_canonical, seal_entry
from vault.journal.docset import document_set
from vault.journal.verify import FailureKind, VerificationError, verify_export


def _padded_to(size: int) -> bytes:
    """A canonical entry of exactly `size` bytes (its reason padded)."""
    short = canonical_bytes(1, replace(EVENT, reason=""), bytes(32))
    fields = json.loads(short) | {"reason": "r" * (size - len(short))}
    raw = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    assert len(raw) == size
    return raw


def test_an_entry_of_exactly_the_maximum_is_canonical_and_one_byte_more_is_not() -> None:
    largest = _padded_to(MAX_ENTRY_BYTES)
    check_canonical(largest, json.loads(largest))
    assert parse_canonical(largest)[0] == 1
    over = _padded_to(MAX_ENTRY_BYTES + 1)
    with pytest.raises(NotCanonicalError, match="longer than 65535 bytes"):
        check_canonical(over, json.loads(over))
    with pytest.raises(IntegrityError, match="not in canonical form"):
        parse_canonical(over)


def test_the_verifier_refuses_an_entry_over_the_maximum_as_non_canonical() -> None:
    with pytest.raises(VerificationError) as caught:
        verify_export([raw_line(_padded_to(MAX_ENTRY_BYTES + 1))], None)
    assert (caught.value.kind, caught.value.seq) == (FailureKind.NON_CANONICAL, None)


def test_the_largest_entry_the_vault_can_build_fits_with_room_to_spare() -> None:
    """A full page of document ids, every bounded string at its longest and each
    character escaped at its worst (an astral code point: 12 bytes)."""
    worst = replace(
        EVENT,
        time_us=MAX_INT,
        actor_ref="\U0001f600" * MAX_SUBJECT_LENGTH,
        actor_profession="\U0001f600" * MAX_CODE_LENGTH,
        documents=tuple(str(uuid.uuid4()) for _ in range(MAX_PAGE_SIZE)),
        secret_care=True,
        document_set=(MAX_INT, "f" * 64),
    )
    size = len(seal_entry(MAX_INT, worst, bytes(32)).canonical)
    assert size < MAX_ENTRY_BYTES * 2 // 3


def test_an_event_that_cannot_fit_is_refused_where_it_is_built() -> None:
    many = tuple(str(uuid.UUID(int=i)) for i in range(1_700))
    with pytest.raises(JournalEntryTooLargeError, match="1700 documents"):
        replace(EVENT, documents=many)


def test_a_set_of_documents_is_the_sorted_lines_an_auditor_rebuilds() -> None:
    first, second = uuid.UUID(int=2), uuid.UUID(int=1)
    versions = [(first, 1), (second, 3), (first, 2)]
    lines = sorted(f"{d}/{v}\n" for d, v in versions)
    expected = hashlib.sha256("".join(lines).encode()).hexdigest()
    assert document_set(versions) == (3, expected)
    assert document_set(reversed([(str(d), v) for d, v in versions])) == (3, expected)
    assert document_set([]) == (0, hashlib.sha256(b"").hexdigest())


def test_a_set_of_documents_survives_the_entry() -> None:
    event = replace(EVENT, documents=(), document_set=document_set([(uuid.UUID(int=5), 1)]))
    entry = seal_entry(7, event, bytes(32))
    assert b'"documents_count":1,"documents_sha256":"' in entry.canonical
    assert parse_canonical(entry.canonical) == (7, event, bytes(32))
