"""Merkle proof files: what an auditor keeps and checks offline with the verifier key alone.

Two kinds (docs/format.md, "Journal proofs v1"), each one JSON object on one line:

    {"checkpoint":"<v2 note>","entry":"<entry bytes>","hashes":[...],"proof":"inclusion","seq":N}
    {"hashes":[...],"new":"<v2 note>","old":"<v2 note>","proof":"consistency"}

`hashes` are the RFC 9162 PATH or PROOF, 64 lowercase hex each. An inclusion proof shows
that entry `seq` (its canonical bytes) is leaf `seq - 1` of the tree a signed checkpoint
commits to; a consistency proof that the newer checkpoint's tree extends the older's.
`verify_proof` checks the signatures, that the checkpoints are v2 (a v1 checkpoint has no
root), the entry's canonical form and sequence number, and the proof, and raises
`ProofFailedError` with a kind (the CLI's exit code). Pure: no I/O, no database; building the
hashes is the service's (vault/service/journal.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from vault.errors import IntegrityError
from vault.journal.chain import parse_canonical
from vault.journal.checkpoint import Checkpoint, VerifierKey, open_note
from vault.journal.merkle import leaf_hash, verify_consistency, verify_inclusion

MAX_PROOF_FILE = 1 << 20  # a proof of a 2^53-entry journal is ~7 KiB; entries are small
_HEX = re.compile(r"[0-9a-f]{64}")
_INCLUSION_KEYS = {"checkpoint", "entry", "hashes", "proof", "seq"}
_CONSISTENCY_KEYS = {"hashes", "new", "old", "proof"}


class ProofFailureKind(StrEnum):
    MALFORMED = "malformed"  # not a proof file
    BAD_SIGNATURE = "bad-signature"  # a checkpoint that does not verify with the key
    NO_ROOT = "no-merkle-root"  # a v1 checkpoint: it commits to no Merkle root
    NON_CANONICAL = "non-canonical"  # the entry is not a canonical v1 entry
    BAD_PROOF = "bad-proof"  # the hashes do not prove the claim


class ProofFailedError(IntegrityError):
    def __init__(self, kind: ProofFailureKind, detail: str) -> None:
        super().__init__(f"{kind.value}: {detail}")
        self.kind, self.detail = kind, detail


@dataclass(frozen=True, slots=True)
class ProvenClaim:
    """What a verified proof established."""

    proof: str  # "inclusion" or "consistency"
    size: int  # the (newer) checkpoint's size
    seq: int | None = None  # inclusion: the entry's sequence number
    old_size: int | None = None  # consistency: the older checkpoint's size


def _encode(document: dict[str, object]) -> bytes:
    return (
        json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
        + b"\n"
    )


def inclusion_document(note: str, seq: int, entry: bytes, hashes: list[bytes]) -> bytes:
    """An inclusion proof file (the writer's one spelling; readers take any JSON)."""
    return _encode(
        {
            "proof": "inclusion",
            "checkpoint": note,
            "seq": seq,
            "entry": entry.decode("ascii"),
            "hashes": [h.hex() for h in hashes],
        }
    )


def consistency_document(old_note: str, new_note: str, hashes: list[bytes]) -> bytes:
    return _encode(
        {
            "proof": "consistency",
            "old": old_note,
            "new": new_note,
            "hashes": [h.hex() for h in hashes],
        }
    )


def _malformed(detail: str) -> ProofFailedError:
    return ProofFailedError(ProofFailureKind.MALFORMED, detail)


def _parse(data: bytes) -> dict[str, object]:
    if len(data) > MAX_PROOF_FILE:
        raise _malformed("the proof file is too large")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        raise _malformed("the proof file is not JSON") from None
    if not isinstance(document, dict):
        raise _malformed("the proof file is not a JSON object")
    keys = {"inclusion": _INCLUSION_KEYS, "consistency": _CONSISTENCY_KEYS}.get(
        str(document.get("proof"))
    )
    if keys is None or set(document) != keys:
        raise _malformed("not an inclusion or consistency proof, or keys missing or extra")
    hashes = document["hashes"]
    if not isinstance(hashes, list) or not all(
        isinstance(h, str) and _HEX.fullmatch(h) for h in hashes
    ):
        raise _malformed("hashes must be a list of 64 lowercase hex digits each")
    return document


def _checkpoint(note: object, key: VerifierKey) -> tuple[Checkpoint, bytes]:
    """The checkpoint and its Merkle root."""
    if not isinstance(note, str):
        raise _malformed("a checkpoint must be a string")
    try:
        checkpoint = open_note(note, key)
    except IntegrityError as error:
        raise ProofFailedError(ProofFailureKind.BAD_SIGNATURE, str(error)) from None
    if checkpoint.root is None:
        raise ProofFailedError(ProofFailureKind.NO_ROOT, "a v1 checkpoint has no Merkle root")
    return checkpoint, checkpoint.root


def _hashes(document: dict[str, object]) -> list[bytes]:
    return [bytes.fromhex(h) for h in document["hashes"]]  # type: ignore[attr-defined]


def verify_proof(data: bytes, key: VerifierKey) -> ProvenClaim:
    """Checks a proof file; raises ProofFailedError only."""
    document = _parse(data)
    try:
        if document["proof"] == "inclusion":
            return _verify_inclusion(document, key)
        return _verify_consistency(document, key)
    except ProofFailedError:
        raise
    except IntegrityError as error:  # merkle.ProofError
        raise ProofFailedError(ProofFailureKind.BAD_PROOF, str(error)) from None


def _verify_inclusion(document: dict[str, object], key: VerifierKey) -> ProvenClaim:
    checkpoint, root = _checkpoint(document["checkpoint"], key)
    seq, entry = document["seq"], document["entry"]
    if type(seq) is not int or not isinstance(entry, str) or not entry.isascii():
        raise _malformed("seq must be an integer and entry an ASCII string")
    if not 1 <= seq <= checkpoint.size:
        raise ProofFailedError(ProofFailureKind.BAD_PROOF, "the entry is beyond the checkpoint")
    canonical = entry.encode("ascii")
    try:
        entry_seq = parse_canonical(canonical)[0]
    except IntegrityError as error:
        raise ProofFailedError(ProofFailureKind.NON_CANONICAL, str(error)) from None
    if entry_seq != seq:
        raise ProofFailedError(ProofFailureKind.BAD_PROOF, "the entry's own seq is another")
    verify_inclusion(seq - 1, checkpoint.size, leaf_hash(canonical), _hashes(document), root)
    return ProvenClaim("inclusion", checkpoint.size, seq=seq)


def _verify_consistency(document: dict[str, object], key: VerifierKey) -> ProvenClaim:
    (old, old_root), (new, new_root) = (_checkpoint(document[k], key) for k in ("old", "new"))
    if old.size > new.size:
        raise ProofFailedError(ProofFailureKind.BAD_PROOF, "the old checkpoint is the larger")
    verify_consistency(old.size, new.size, old_root, new_root, _hashes(document))
    return ProvenClaim("consistency", new.size, old_size=old.size)
