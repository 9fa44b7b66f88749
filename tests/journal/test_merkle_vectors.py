"""tests/vectors/merkle-v1.json: the code reproduces it, a reading of docs/format.md written
here opens it, and every way of spoiling a proof file fails with its kind."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.journal.test_merkle import naive_mth
from tools.journal_vectors import GENUINE, ORIGIN, SIGNER
from tools.make_merkle_vectors import MERKLE_VECTORS, build, v2_note
from vault.journal.checkpoint import Checkpoint, VerifierKey, open_note, sign
from vault.journal.proofs import ProofFailedError, ProofFailureKind, verify_proof

STORED: dict[str, Any] = json.loads(MERKLE_VECTORS.read_text())
KEY = VerifierKey.parse(STORED["verifier_key"])
ROOT = Path(__file__).resolve().parent.parent.parent
INCLUSION = STORED["inclusion_proof_seq_3_size_5"].encode()
CONSISTENCY = STORED["consistency_proof_2_to_5"].encode()


def test_stored_vectors_are_what_the_code_produces() -> None:
    assert build() == STORED
    result = subprocess.run(
        [sys.executable, "tools/make_merkle_vectors.py", "--check"], cwd=ROOT, capture_output=True
    )
    assert result.returncode == 0, result.stderr


def test_the_specification_read_independently_gives_the_stored_hashes() -> None:
    """docs/format.md: leaf = SHA-256(0x00 || entry bytes), MTH of RFC 9162; the v2 body's
    hash line is the root and its `chain` line the chain hash of entry `size`."""
    entries = [e.encode() for e in STORED["entries"]]
    assert STORED["leaf_hashes"] == [hashlib.sha256(b"\0" + e).hexdigest() for e in entries]
    assert STORED["roots"] == [naive_mth(entries[:n]).hex() for n in range(1, 6)]
    body = STORED["checkpoint_v2_size_5"].split("\n\n")[0].split("\n")
    assert body[:2] == [ORIGIN, "5"]
    assert base64.b64decode(body[2]).hex() == STORED["roots"][4]
    assert base64.b64decode(body[4].removeprefix("chain ")) == GENUINE[4].chain_hash


def test_the_stored_proofs_verify_with_the_key_alone() -> None:
    inclusion = verify_proof(INCLUSION, KEY)
    assert (inclusion.proof, inclusion.seq, inclusion.size) == ("inclusion", 3, 5)
    consistency = verify_proof(CONSISTENCY, KEY)
    assert (consistency.old_size, consistency.size) == (2, 5)


def test_a_v1_checkpoint_is_still_read_and_has_no_root() -> None:
    note = sign(Checkpoint(ORIGIN, 5, GENUINE[4].chain_hash, 1), ORIGIN, SIGNER)
    checkpoint = open_note(note, KEY)
    assert (checkpoint.version, checkpoint.root, checkpoint.chain_hash) == (
        1,
        None,
        GENUINE[4].chain_hash,
    )


def _edited(data: bytes, **changes: object) -> bytes:
    document = json.loads(data)
    document.update(changes)
    return json.dumps(document).encode()


def _kind(data: bytes) -> ProofFailureKind:
    with pytest.raises(ProofFailedError) as failure:
        verify_proof(data, KEY)
    return failure.value.kind


def test_an_entry_proven_at_another_position_is_refused() -> None:
    other = GENUINE[3].canonical.decode()
    assert _kind(_edited(INCLUSION, seq=4)) is ProofFailureKind.BAD_PROOF
    assert _kind(_edited(INCLUSION, entry=other)) is ProofFailureKind.BAD_PROOF
    assert _kind(_edited(INCLUSION, entry=other, seq=4)) is ProofFailureKind.BAD_PROOF


def test_a_proof_under_a_v1_checkpoint_is_refused_for_want_of_a_root() -> None:
    v1 = sign(Checkpoint(ORIGIN, 5, GENUINE[4].chain_hash, 1), ORIGIN, SIGNER)
    assert _kind(_edited(INCLUSION, checkpoint=v1)) is ProofFailureKind.NO_ROOT


def test_a_checkpoint_signed_by_another_key_is_refused() -> None:
    forged = v2_note(5).replace("x+lK", "y+lK")
    assert _kind(_edited(INCLUSION, checkpoint=forged)) is ProofFailureKind.BAD_SIGNATURE


def test_swapped_checkpoints_are_refused() -> None:
    swapped = _edited(CONSISTENCY, old=v2_note(5), new=v2_note(2))
    assert _kind(swapped) is ProofFailureKind.BAD_PROOF


def test_a_non_canonical_entry_is_refused() -> None:
    spaced = GENUINE[2].canonical.decode().replace('"seq":3', '"seq": 3')
    assert _kind(_edited(INCLUSION, entry=spaced)) is ProofFailureKind.NON_CANONICAL


@pytest.mark.parametrize(
    "data",
    [b"", b"[]", b"{}", b'{"proof":"inclusion"}', _edited(CONSISTENCY, extra=1),
     _edited(CONSISTENCY, hashes=["AB" * 32]), _edited(INCLUSION, seq="3")],
)  # fmt: skip
def test_what_is_not_a_proof_file_is_malformed(data: bytes) -> None:
    assert _kind(data) is ProofFailureKind.MALFORMED


@settings(deadline=None)
@given(st.sampled_from([INCLUSION, CONSISTENCY]), st.data())
def test_any_single_bit_flipped_in_a_proof_hash_is_refused(
    data: bytes, draw: st.DataObject
) -> None:
    document = json.loads(data)
    which = draw.draw(st.integers(0, len(document["hashes"]) - 1))
    bit = draw.draw(st.integers(0, 255))
    changed = bytearray(bytes.fromhex(document["hashes"][which]))
    changed[bit // 8] ^= 1 << (bit % 8)
    document["hashes"][which] = changed.hex()
    assert _kind(json.dumps(document).encode()) is ProofFailureKind.BAD_PROOF
