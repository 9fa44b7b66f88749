"""`dossier-vault journal verify-proof`: offline, the key alone, a code per failure kind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tools.make_merkle_vectors import MERKLE_VECTORS
from vault.cli.exitcodes import EXIT_CODES, PROOF_EXIT_CODES, VERIFY_EXIT_CODES
from vault.journal.proofs import ProofFailureKind
from vault.journal.verify import FailureKind

VECTORS = json.loads(MERKLE_VECTORS.read_text())


def verify_proof(tmp_path: Path, data: bytes, *extra: str) -> subprocess.CompletedProcess[str]:
    proof = tmp_path / "proof.json"
    proof.write_bytes(data)
    return subprocess.run(
        [sys.executable, "-m", "vault.cli", "journal", "verify-proof", str(proof), *extra],
        capture_output=True,
        text=True,
    )


def test_the_stored_proofs_verify_with_the_key(tmp_path: Path) -> None:
    for name in ("inclusion_proof_seq_3_size_5", "consistency_proof_2_to_5"):
        result = verify_proof(tmp_path, VECTORS[name].encode(), "--key", VECTORS["verifier_key"])
        assert result.returncode == 0, result.stderr
        assert "proof verified" in result.stdout


def test_a_proof_for_another_entry_exits_32(tmp_path: Path) -> None:
    document = json.loads(VECTORS["inclusion_proof_seq_3_size_5"])
    document["seq"] = 2
    result = verify_proof(tmp_path, json.dumps(document).encode(), "--key", VECTORS["verifier_key"])
    assert result.returncode == PROOF_EXIT_CODES[ProofFailureKind.BAD_PROOF] == 32
    assert "bad-proof" in result.stderr


def test_not_a_proof_file_exits_as_malformed(tmp_path: Path) -> None:
    result = verify_proof(tmp_path, b"{}", "--key", VECTORS["verifier_key"])
    assert result.returncode == VERIFY_EXIT_CODES[FailureKind.MALFORMED]


def test_without_a_key_it_is_a_usage_error(tmp_path: Path) -> None:
    result = verify_proof(tmp_path, VECTORS["consistency_proof_2_to_5"].encode())
    assert result.returncode == 3  # InvalidArgumentError


def test_proof_codes_share_meanings_never_numbers_and_are_documented() -> None:
    shared = {kind.value: code for kind, code in VERIFY_EXIT_CODES.items()}
    for kind, code in PROOF_EXIT_CODES.items():
        assert shared.get(kind.value, code) == code  # same meaning, same code
        if kind.value not in shared:
            assert code not in shared.values()
            assert code not in EXIT_CODES.values()
    help_text = subprocess.run(
        [sys.executable, "-m", "vault.cli", "journal", "verify-proof", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for kind, code in PROOF_EXIT_CODES.items():
        assert f"{code:<3} {kind.value}" in help_text
