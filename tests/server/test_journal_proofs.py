"""Merkle proofs over gRPC: an auditor's proof files verify offline with the verifier key
alone (through `dossier-vault journal verify-proof` too); nobody else gets one, and
every request for one is journaled."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RunningVault
from tests.server.test_journal_api import auditor, seed
from vault.composition import build_checkpointer, key_provider, open_journal
from vault.errors import InvalidArgumentError, NotFoundError, PermissionDeniedError
from vault.journal.checkpointer import Checkpointer
from vault.journal.proofs import verify_proof


def checkpointer(vault: RunningVault) -> Checkpointer:
    config = vault.config
    return build_checkpointer(config, open_journal(config), key_provider(config))


def test_an_auditors_proofs_verify_offline(running_vault: RunningVault, tmp_path: Path) -> None:
    seed(running_vault)
    signer = checkpointer(running_vault)
    old_note = signer.checkpoint()
    assert old_note is not None
    with running_vault.client(auditor(running_vault)) as client:
        client.query_journal()  # one more entry
    assert signer.checkpoint() is not None
    key = signer.verifier_key
    with running_vault.client(auditor(running_vault)) as client:
        inclusion = client.inclusion_proof(2)
        old_size = int(old_note.split("\n")[1])
        consistency = client.consistency_proof(old_size)
        pinned = client.inclusion_proof(1, old_size)
    assert verify_proof(inclusion, key).seq == 2
    assert verify_proof(consistency, key).old_size == old_size
    assert verify_proof(pinned, key).size == old_size
    proof_file, key_file = tmp_path / "proof.json", tmp_path / "key.txt"
    proof_file.write_bytes(inclusion)
    key_file.write_text(key.encode())
    verified = _cli("journal", "verify-proof", str(proof_file), "--key-file", str(key_file))
    assert verified.returncode == 0, verified.stderr
    document = json.loads(inclusion)
    document["seq"] = 3
    proof_file.write_text(json.dumps(document))
    refused = _cli("journal", "verify-proof", str(proof_file), "--key-file", str(key_file))
    assert refused.returncode == 32


def test_journal_prove_writes_a_file_that_verify_proof_accepts(
    running_vault: RunningVault, tmp_path: Path
) -> None:
    seed(running_vault)
    signer = checkpointer(running_vault)
    assert signer.checkpoint() is not None
    proof, key = tmp_path / "p.json", signer.verifier_key.encode()
    target = ["--target", running_vault.server.target, "--token", auditor(running_vault)]
    made = _cli(*target, "journal", "prove", "--seq", "1", "-o", str(proof))
    assert made.returncode == 0, made.stderr
    checked = _cli("journal", "verify-proof", str(proof), "--key", key, "--json")
    assert (checked.returncode, json.loads(checked.stdout)["seq"]) == (0, 1)


def _cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vault.cli", *arguments], capture_output=True, text=True
    )


def test_only_auditors_get_proofs_and_each_request_is_journaled(
    running_vault: RunningVault,
) -> None:
    seed(running_vault)
    note = checkpointer(running_vault).checkpoint()
    assert note is not None
    with running_vault.client() as patient, pytest.raises(PermissionDeniedError):
        patient.inclusion_proof(1)
    with running_vault.client(auditor(running_vault)) as client:
        assert json.loads(client.consistency_proof(int(note.split("\n")[1])))["hashes"] == []
        lines = [json.loads(line) for line in client.export_journal()]
    exports = [
        (e["actor_kind"], e["decision"])
        for e in (line["entry"] for line in lines if "entry" in line)
        if e["action"] == "journal.export"
    ]
    assert exports[:2] == [("patient", "deny"), ("auditor", "allow")]  # then the export


def test_a_size_without_a_checkpoint_or_an_entry_beyond_it_is_refused(
    running_vault: RunningVault,
) -> None:
    seed(running_vault)
    note = checkpointer(running_vault).checkpoint()
    assert note is not None
    size = int(note.split("\n")[1])
    with running_vault.client(auditor(running_vault)) as client:
        with pytest.raises(NotFoundError):
            client.inclusion_proof(1, size - 1)
        with pytest.raises(InvalidArgumentError):
            client.inclusion_proof(size + 1, size)
        with pytest.raises(InvalidArgumentError):
            client.consistency_proof(0)
