"""Journal entry format v1: canonical bytes, hashing, and tampering caught by verification."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.errors import IntegrityError
from vault.journal.chain import (
    GENESIS_HASH,
    JournalEntry,
    JournalEvent,
    canonical_bytes,
    parse_canonical,
    seal_entry,
    verify_chain,
)

EVENT = JournalEvent(
    time_us=1_764_000_000_000_000,
    actor_kind="patient",
    actor_ref="ins-hmac:00ff",
    action="document.read",
    dossier="01a214a7-83c6-7298-9bfd-b41ded0f71a0",
    documents=("01a214a7-84e8-76d7-bdd7-948cf2dc75fc",),
    decision="allow",
    reason="holder",
    emergency=False,
    request_id="req-1",
)


def chain(length: int) -> list[JournalEntry]:
    entries, head = [], GENESIS_HASH
    for seq in range(1, length + 1):
        entry = seal_entry(seq, replace(EVENT, request_id=f"req-{seq}"), head)
        entries.append(entry)
        head = entry.chain_hash
    return entries


def test_canonical_bytes_are_sorted_compact_ascii() -> None:
    encoded = canonical_bytes(1, replace(EVENT, actor_ref="é"), GENESIS_HASH)
    assert encoded.startswith(b'{"action":"document.read","actor_kind":"patient"')
    assert b" " not in encoded
    assert b"\\u00e9" in encoded


def test_canonical_bytes_round_trip() -> None:
    encoded = canonical_bytes(7, EVENT, b"\x01" * 32)
    assert parse_canonical(encoded) == (7, EVENT, b"\x01" * 32)


def test_non_canonical_spelling_is_rejected() -> None:
    encoded = canonical_bytes(7, EVENT, GENESIS_HASH)
    with pytest.raises(IntegrityError, match="canonical"):
        parse_canonical(encoded.replace(b'"seq":7', b'"seq":7.0'))
    with pytest.raises(IntegrityError, match="canonical"):
        parse_canonical(encoded.replace(b",", b", ", 1))


def test_integer_outside_the_canonical_range_is_refused() -> None:
    with pytest.raises(IntegrityError):
        canonical_bytes(1, replace(EVENT, time_us=2**60), GENESIS_HASH)


def test_an_intact_chain_verifies() -> None:
    entries = chain(10)
    assert verify_chain(entries) == (10, entries[-1].chain_hash)


def test_edited_entry_is_detected() -> None:
    entries = chain(5)
    entries[2] = replace(entries[2], event=replace(entries[2].event, decision="deny"))
    with pytest.raises(IntegrityError, match="edited at sequence 3"):
        verify_chain(entries)


def test_deleted_entry_is_detected() -> None:
    entries = chain(5)
    del entries[2]
    with pytest.raises(IntegrityError, match="gap or reordering at sequence 3"):
        verify_chain(entries)


def test_swapped_entries_are_detected() -> None:
    entries = chain(5)
    entries[1], entries[2] = entries[2], entries[1]
    with pytest.raises(IntegrityError, match="sequence 2"):
        verify_chain(entries)


def test_rechained_entry_with_renumbered_successors_is_detected() -> None:
    entries = chain(5)
    forged = seal_entry(3, replace(EVENT, decision="deny"), entries[1].chain_hash)
    entries[2] = forged  # a valid entry on its own, but entry 4 links to the original
    with pytest.raises(IntegrityError, match="link broken at sequence 4"):
        verify_chain(entries)


@given(st.binary(max_size=300))
def test_parsing_arbitrary_bytes_raises_only_integrity_errors(data: bytes) -> None:
    with contextlib.suppress(IntegrityError):
        parse_canonical(data)
