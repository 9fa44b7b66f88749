"""Generate (or check) tests/vectors/merkle-v1.json: the journal's Merkle tree, v2
checkpoints and proof files (docs/format.md, "Journal checkpoints" and "Journal proofs v1").

`python tools/make_merkle_vectors.py` rewrites the file; `--check` fails if it differs
from what the code produces today. Inputs are fixed: the five entries of the journal
export vectors (tools/journal_vectors.py) and its Ed25519 seed (bytes 0..31).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from vault.journal.checkpoint import Checkpoint, sign
from vault.journal.merkle import (
    Frontier,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    prove,
)
from vault.journal.proofs import consistency_document, inclusion_document

try:
    from tools.journal_vectors import GENUINE, KEY, ORIGIN, SIGNER
except ModuleNotFoundError:  # run as a script: tools/ itself is on sys.path
    from journal_vectors import GENUINE, KEY, ORIGIN, SIGNER  # type: ignore[import-not-found,no-redef]

ROOT = Path(__file__).resolve().parent.parent
MERKLE_VECTORS = ROOT / "tests" / "vectors" / "merkle-v1.json"
LEAVES = [entry.canonical for entry in GENUINE]


class _Leaves:
    def mth(self, start: int, end: int) -> bytes:
        frontier = Frontier()
        for canonical in LEAVES[start:end]:
            frontier.append(leaf_hash(canonical))
        return frontier.root()


def roots() -> list[bytes]:
    frontier, found = Frontier(), []
    for canonical in LEAVES:
        frontier.append(leaf_hash(canonical))
        found.append(frontier.root())
    return found


def v2_note(size: int) -> str:
    covered = GENUINE[size - 1]
    checkpoint = Checkpoint(
        ORIGIN, size, roots()[size - 1], covered.event.time_us + 500, covered.chain_hash
    )
    return sign(checkpoint, ORIGIN, SIGNER)


def build() -> dict[str, Any]:
    source = _Leaves()
    inclusion = inclusion_document(v2_note(5), 3, LEAVES[2], prove(inclusion_ranges(2, 5), source))
    consistency = consistency_document(
        v2_note(2), v2_note(5), prove(consistency_ranges(2, 5), source)
    )
    return {
        "description": "journal Merkle tree v1 (RFC 9162 over the entries' canonical bytes), "
        "v2 checkpoints and proof files: docs/format.md",
        "verifier_key": KEY,
        "entries": [canonical.decode() for canonical in LEAVES],
        "leaf_hashes": [leaf_hash(canonical).hex() for canonical in LEAVES],
        "roots": [root.hex() for root in roots()],
        "checkpoint_v2_size_5": v2_note(5),
        "inclusion_proof_seq_3_size_5": inclusion.decode(),
        "consistency_proof_2_to_5": consistency.decode(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the file would change")
    args = parser.parse_args()
    text = json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
    if args.check:
        if MERKLE_VECTORS.read_text() != text:
            print(f"{MERKLE_VECTORS} differs: run tools/make_merkle_vectors.py", file=sys.stderr)
            return 1
        return 0
    MERKLE_VECTORS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
