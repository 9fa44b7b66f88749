"""The verifiers' witness rule: the newest checkpoint they rely on carries a quorum.

A verifier configured with witness keys and a quorum (`journal verify`, `journal
verify-proof`: `--witness-key`, `--witness-quorum`) accepts a result only if the
checkpoint it ends on carries valid cosignatures (vault/witness/cosignature.py) from at
least `quorum` distinct witnesses among those keys: for an export, a checkpoint of the
largest size matched (the export proves every earlier one a prefix of it); for an
inclusion proof its checkpoint, for a consistency proof the new one (the proof makes the
old one its prefix). A fork the witnesses refused to cosign is then rejected even though
the log's own signature on it is valid. Pure. What it does not: check the log's signature
or the proofs (vault/journal/verify.py, proofs.py run first).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence

from vault.errors import IntegrityError
from vault.journal.checkpoint import read_note
from vault.journal.export import CHECKPOINT_PREFIX
from vault.witness.cosignature import QuorumNotMetError, WitnessKey, require_quorum


def _size(note: str) -> int | None:
    try:
        return read_note(note).size
    except IntegrityError:
        return None


def require_witnessed(
    notes: Iterable[str], size: int | None, keys: Sequence[WitnessKey], quorum: int
) -> int:
    """The count of cosigners on the best note of `size`; QuorumNotMetError if none of
    them (or no checkpoint at all) carries the quorum."""
    if size is None:
        raise QuorumNotMetError("no checkpoint matched: nothing the witnesses cosigned")
    best: QuorumNotMetError | None = None
    for note in notes:
        if _size(note) != size:
            continue
        try:
            return require_quorum(note, keys, quorum)
        except QuorumNotMetError as error:
            best = error
    raise best or QuorumNotMetError(f"no checkpoint of size {size} to check for cosignatures")


def proof_note(data: bytes) -> str:
    """The note of a verified proof file whose cosignatures count."""
    document = json.loads(data)
    note = document["checkpoint"] if document["proof"] == "inclusion" else document["new"]
    assert isinstance(note, str)  # verify_proof checked the file first
    return note


class NoteCapture:
    """Export lines passed through unchanged, keeping the notes of checkpoint lines."""

    def __init__(self, lines: Iterable[bytes]) -> None:
        self._lines = lines
        self.notes: list[str] = []

    def __iter__(self) -> Iterator[bytes]:
        for line in self._lines:
            if line.startswith(CHECKPOINT_PREFIX):
                try:
                    note = json.loads(line)["checkpoint"]
                except (ValueError, KeyError, TypeError):
                    note = None  # the verifier reports the malformed line
                if isinstance(note, str):
                    self.notes.append(note)
            yield line
