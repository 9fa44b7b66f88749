"""The auditors' verifier: each tampering of an export is caught with its kind and place."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.journal.test_chain import EVENT
from tests.journal.test_checkpoint import ORIGIN, SIGNER, KeySigner
from vault.journal.chain import GENESIS_HASH, JournalEntry, seal_entry
from vault.journal.checkpoint import Checkpoint, VerifierKey, sign
from vault.journal.export import checkpoint_line, entry_line
from vault.journal.verify import Anchor, FailureKind, VerificationError, verify_export

KEY = VerifierKey(ORIGIN, SIGNER.public_key)


def chain(length: int, start_time: int = 1_000) -> list[JournalEntry]:
    entries, head = [], GENESIS_HASH
    for seq in range(1, length + 1):
        event = replace(EVENT, request_id=f"r{seq}", time_us=start_time + seq)
        entries.append(seal_entry(seq, event, head))
        head = entries[-1].chain_hash
    return entries


def note_for(entries: list[JournalEntry], size: int, signer: KeySigner = SIGNER) -> str:
    covered = entries[size - 1]
    checkpoint = Checkpoint(ORIGIN, size, covered.chain_hash, covered.event.time_us)
    return sign(checkpoint, ORIGIN, signer)


def export(entries: list[JournalEntry], checkpoint_sizes: tuple[int, ...] = ()) -> list[bytes]:
    lines = []
    for entry in entries:
        lines.append(entry_line(entry))
        if entry.seq in checkpoint_sizes:
            lines.append(checkpoint_line(note_for(entries, entry.seq)))
    return lines


def failure(
    lines: list[bytes], published: tuple[str, ...] = (), *, expect_complete: bool = False
) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        verify_export(lines, KEY, published, expect_complete=expect_complete)
    return caught.value


def rechained(genuine: list[JournalEntry], changed_seq: int = 3) -> list[JournalEntry]:
    """The same journal with one decision changed and every hash recomputed."""
    forged, head = [], GENESIS_HASH
    for entry in genuine:
        event = entry.event if entry.seq != changed_seq else replace(entry.event, decision="deny")
        forged.append(seal_entry(entry.seq, event, head))
        head = forged[-1].chain_hash
    return forged


def test_an_intact_export_verifies_with_its_checkpoints() -> None:
    entries = chain(10)
    summary = verify_export(export(entries, (4, 10)), KEY)
    assert (summary.entries, summary.first_seq, summary.last_seq) == (10, 1, 10)
    assert summary.checkpoints_matched == [4, 10]
    assert summary.head == entries[-1].chain_hash.hex()
    assert summary.anchored_at_genesis


def test_edited_field_in_the_middle_is_an_edited_entry() -> None:
    lines = export(chain(10))
    lines[4] = lines[4].replace(b'"decision":"allow"', b'"decision":"deny"')
    caught = failure(lines)
    assert (caught.kind, caught.seq) == (FailureKind.EDITED_ENTRY, 5)


def test_edited_entry_with_its_hash_recomputed_breaks_the_next_link() -> None:
    entries = chain(10)
    lines = export(entries)
    forged = seal_entry(5, replace(entries[4].event, decision="deny"), entries[3].chain_hash)
    lines[4] = entry_line(forged)
    caught = failure(lines)
    assert (caught.kind, caught.seq) == (FailureKind.BROKEN_LINK, 6)


def test_deleted_entry_is_a_gap() -> None:
    lines = export(chain(10))
    del lines[6]
    caught = failure(lines)
    assert (caught.kind, caught.seq) == (FailureKind.GAP, 7)


def test_swapped_entries_are_a_reordering() -> None:
    lines = export(chain(10))
    lines[3], lines[4] = lines[4], lines[3]
    assert failure(lines).kind in {FailureKind.GAP, FailureKind.REORDERING}


def test_duplicated_entry_is_a_reordering() -> None:
    lines = export(chain(10))
    lines.insert(5, lines[4])
    caught = failure(lines)
    assert (caught.kind, caught.seq) == (FailureKind.REORDERING, 5)


def test_truncated_tail_after_a_checkpoint_is_a_tail_cut() -> None:
    entries = chain(10)
    published = (note_for(entries, 10),)
    caught = failure(export(entries)[:7], published, expect_complete=True)
    assert caught.kind is FailureKind.TAIL_CUT


def test_live_journal_export_older_than_a_published_checkpoint_is_not_a_false_tail_cut() -> None:
    entries = chain(10)
    published = (note_for(entries, 4), note_for(entries, 10))
    summary = verify_export(export(entries)[:7], KEY, published)
    assert summary.checkpoints_matched == [4]
    assert summary.checkpoints_beyond_export == 1


def test_inline_checkpoint_beyond_the_export_is_malformed() -> None:
    entries = chain(10)
    lines = [*export(entries)[:7], checkpoint_line(note_for(entries, 10))]
    caught = failure(lines)
    assert (caught.kind, caught.seq) == (FailureKind.MALFORMED, 7)


def test_inline_checkpoint_away_from_its_entry_is_malformed() -> None:
    entries = chain(10)
    lines = export(entries)
    lines.insert(8, checkpoint_line(note_for(entries, 4)))
    assert failure(lines).kind is FailureKind.MALFORMED


def test_forged_checkpoint_of_a_published_size_placed_first_is_caught() -> None:
    genuine = chain(10)
    forged = rechained(genuine)
    published = (note_for(genuine, 8),)
    lines = [checkpoint_line(note_for(forged, 8)), *export(forged)]  # validly signed
    caught = failure(lines, published)
    assert caught.kind in {FailureKind.MALFORMED, FailureKind.REWRITTEN_HISTORY}


def test_forged_checkpoint_of_a_published_size_after_its_entry_is_rewritten_history() -> None:
    genuine = chain(10)
    forged = rechained(genuine)
    published = (note_for(genuine, 8),)
    caught = failure(export(forged, (8,)), published)
    assert (caught.kind, caught.seq) == (FailureKind.REWRITTEN_HISTORY, 8)


def test_two_published_checkpoints_of_one_size_with_different_heads_are_rewritten_history() -> None:
    genuine = chain(10)
    published = (note_for(genuine, 8), note_for(rechained(genuine), 8))
    caught = failure(export(genuine), published)
    assert (caught.kind, caught.seq) == (FailureKind.REWRITTEN_HISTORY, 8)


def test_checkpoint_of_another_origin_signed_by_the_key_is_a_bad_signature() -> None:
    entries = chain(5)
    checkpoint = Checkpoint("elsewhere/journal", 5, entries[4].chain_hash, 5)
    lines = [*export(entries), checkpoint_line(sign(checkpoint, ORIGIN, SIGNER))]
    assert failure(lines).kind is FailureKind.BAD_SIGNATURE


def test_whole_journal_replaced_by_a_rechained_forgery_is_rewritten_history() -> None:
    genuine = chain(10)
    published = (note_for(genuine, 8),)
    forged = rechained(genuine)
    verify_export(export(forged), None)  # consistent on its own...
    caught = failure(export(forged), published)  # ...but not with the signed head
    assert (caught.kind, caught.seq) == (FailureKind.REWRITTEN_HISTORY, 8)


def test_changed_checkpoint_signature_is_a_bad_signature() -> None:
    entries = chain(5)
    note = note_for(entries, 5)
    body, _, stamp = note.rpartition(" ")
    tampered = body + " " + ("A" if stamp[0] != "A" else "B") + stamp[1:]
    caught = failure([*export(entries), checkpoint_line(tampered)])
    assert caught.kind is FailureKind.BAD_SIGNATURE


def test_checkpoint_by_an_unknown_key_is_a_bad_signature() -> None:
    entries = chain(5)
    lines = [*export(entries), checkpoint_line(note_for(entries, 5, KeySigner()))]
    assert failure(lines).kind is FailureKind.BAD_SIGNATURE


def test_time_going_backwards_is_caught() -> None:
    entries = chain(3)
    late = seal_entry(4, replace(EVENT, time_us=1), entries[-1].chain_hash)
    caught = failure(export([*entries, late]))
    assert (caught.kind, caught.seq) == (FailureKind.TIME_BACKWARDS, 4)


def test_a_later_range_verifies_anchored_at_its_first_entry() -> None:
    entries = chain(10)
    published = (note_for(entries, 3), note_for(entries, 9))
    summary = verify_export(export(entries)[3:], KEY, published)
    assert not summary.anchored_at_genesis
    assert summary.checkpoints_matched == [3, 9]


@pytest.mark.parametrize(
    "line",
    [
        b"hello\n",
        b'{"entry_hash":"00","entry":{}}\n',
        b'{"checkpoint":3}\n',
        json.dumps({"entry_hash": "0" * 64, "entry": {"v": 2}}).encode() + b"\n",
    ],
    ids=["text", "short-hash", "checkpoint-not-text", "unknown-version"],
)
def test_malformed_lines_are_reported(line: bytes) -> None:
    assert failure([line]).kind in {FailureKind.MALFORMED, FailureKind.BAD_SIGNATURE}


def test_deeply_nested_checkpoint_line_is_malformed_not_a_recursion_error() -> None:
    line = b'{"checkpoint":' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    assert failure([line]).kind is FailureKind.MALFORMED


def test_deeply_nested_entry_is_malformed_not_a_recursion_error() -> None:
    line = entry_line(chain(1)[0])
    nested = line[:89] + b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}}\n"
    assert failure([nested]).kind is FailureKind.MALFORMED


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
_TAILS = st.binary(max_size=200) | _JSON.map(lambda value: json.dumps(value).encode())
_PREFIXES = [b'{"entry_hash":"', b'{"entry_hash":"' + b"0" * 64 + b'","entry":', b'{"checkpoint":']
_LINES = st.tuples(st.sampled_from([*_PREFIXES, b""]), _TAILS, st.sampled_from([b"", b"}"])).map(
    b"".join
)


@given(st.lists(_LINES, max_size=5), st.booleans())
@settings(max_examples=400)
def test_hostile_lines_reaching_the_parsers_raise_only_verification_errors(
    lines: list[bytes], prefix_real_entry: bool
) -> None:
    first = [entry_line(chain(1)[0])] if prefix_real_entry else []
    with contextlib.suppress(VerificationError):
        verify_export([*first, *(line + b"\n" for line in lines)], KEY)


# -- destruction certificates' anchors ---------------------------------------------------


def _destroy_chain() -> list[JournalEntry]:
    entries = chain(3)
    decision = replace(EVENT, action="dossier.destroy", request_id="job-1", time_us=9_000)
    entries.append(seal_entry(4, decision, entries[-1].chain_hash))
    return entries


def _anchor(
    entries: list[JournalEntry], dossier: str | None = None, request_id: str = "job-1"
) -> Anchor:
    return Anchor(entries[3].chain_hash, dossier or str(EVENT.dossier), request_id)


def test_a_certificates_decision_entry_is_found_in_the_export() -> None:
    entries = _destroy_chain()
    summary = verify_export(export(entries), KEY, anchors={4: _anchor(entries)})
    assert summary.certificates_matched == [4]


@pytest.mark.parametrize(
    "changes",
    [{"request_id": "job-2"}, {"dossier": "01a214a7-0000-7000-8000-000000000000"}],
    ids=["another-job", "another-dossier"],
)
def test_a_certificate_naming_another_job_or_dossier_is_rejected(changes: dict[str, str]) -> None:
    entries = _destroy_chain()
    with pytest.raises(VerificationError) as raised:
        verify_export(export(entries), KEY, anchors={4: _anchor(entries, **changes)})
    assert raised.value.kind is FailureKind.CERTIFICATE


def test_a_certificate_whose_decision_is_missing_from_the_export_is_rejected() -> None:
    entries = _destroy_chain()
    with pytest.raises(VerificationError) as raised:
        verify_export(export(entries[:3]), KEY, anchors={4: _anchor(entries)})
    assert raised.value.kind is FailureKind.CERTIFICATE
