"""`journal verify` and v2 checkpoints: from the genesis the verifier rebuilds the Merkle
tree and checks each v2 root; a forged root under a genuine chain hash is rewritten
history; a range export checks chain hashes only; v1 and v2 checkpoints mix."""

from __future__ import annotations

import pytest

from tests.journal.test_merkle import naive_mth
from tools.journal_vectors import GENUINE, ORIGIN, SIGNER
from tools.make_merkle_vectors import v2_note
from vault.journal.checkpoint import Checkpoint, VerifierKey, open_note, sign
from vault.journal.export import checkpoint_line, entry_line
from vault.journal.verify import FailureKind, VerificationError, verify_export

KEY = VerifierKey(ORIGIN, SIGNER.public_key)


def _export(notes: dict[int, str], first: int = 1) -> list[bytes]:
    lines = []
    for entry in GENUINE[first - 1 :]:
        lines.append(entry_line(entry))
        if entry.seq in notes:
            lines.append(checkpoint_line(notes[entry.seq]))
    return lines


def _forged_root(size: int) -> str:
    genuine = open_note(v2_note(size), KEY)
    checkpoint = Checkpoint(ORIGIN, size, bytes(32), genuine.time_us, genuine.chain_hash)
    return sign(checkpoint, ORIGIN, SIGNER)


def test_an_export_from_the_genesis_checks_every_v2_root() -> None:
    summary = verify_export(_export({2: v2_note(2), 5: v2_note(5)}), KEY)
    assert summary.roots_matched == [2, 5]
    assert summary.root == naive_mth([e.canonical for e in GENUINE]).hex()


def test_a_forged_root_under_the_genuine_chain_hash_is_rewritten_history() -> None:
    with pytest.raises(VerificationError) as failure:
        verify_export(_export({3: _forged_root(3)}), KEY)
    assert (failure.value.kind, failure.value.seq) == (FailureKind.REWRITTEN_HISTORY, 3)


def test_a_published_v2_checkpoint_is_checked_like_an_inline_one() -> None:
    with pytest.raises(VerificationError) as failure:
        verify_export(_export({}), KEY, [_forged_root(4)])
    assert failure.value.kind is FailureKind.REWRITTEN_HISTORY


def test_two_published_checkpoints_of_one_size_with_two_roots_are_rewritten_history() -> None:
    with pytest.raises(VerificationError) as failure:
        verify_export(_export({}), KEY, [v2_note(4), _forged_root(4)])
    assert failure.value.kind is FailureKind.REWRITTEN_HISTORY


def test_a_range_export_checks_chain_hashes_only() -> None:
    summary = verify_export(_export({5: _forged_root(5)}, first=3), KEY)
    assert (summary.checkpoints_matched, summary.roots_matched, summary.root) == ([5], [], None)


def test_v1_and_v2_checkpoints_mix_in_one_export() -> None:
    covered = GENUINE[2]
    v1 = sign(Checkpoint(ORIGIN, 3, covered.chain_hash, covered.event.time_us), ORIGIN, SIGNER)
    summary = verify_export(_export({3: v1, 5: v2_note(5)}), KEY)
    assert (summary.checkpoints_matched, summary.roots_matched) == ([3, 5], [5])
