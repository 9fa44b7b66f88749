"""The split-view attack end to end: two histories of the journal, both signed with the
log's key. The witness cosigns the first and refuses the second; the offline verifiers,
given the witness's key, accept the first and reject the second (exit 34), the journal
export and the Merkle proofs alike, even with the first's cosignatures pasted on."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.journal.test_chain import EVENT
from tests.witness.fixtures import LOG_KEY, LOG_SIGNER, ORIGIN, WITNESS_KEY, serving, witnessing
from vault.cli.exitcodes import EXIT_NO_QUORUM
from vault.errors import UnavailableError
from vault.journal.checkpointer import Checkpointer, DirectoryPublisher
from vault.journal.export import export_lines
from vault.journal.merkle import inclusion_ranges
from vault.journal.proofs import inclusion_document
from vault.journal.sql import SqlJournal
from vault.journal.tree import SqlMerkleTree
from vault.sqlstore import make_engine
from vault.witness.collector import Collector
from vault.witness.cosignature import valid_cosigners


class FixedClock:
    def now(self) -> datetime:
        return datetime(2026, 11, 25, tzinfo=UTC)


def history(tmp_path: Path, name: str, decision: str) -> SqlJournal:
    journal = SqlJournal(make_engine(f"sqlite:///{tmp_path / name}.db"))
    journal.create_schema()
    for i in range(10):
        event = replace(EVENT, request_id=f"r{i}", time_us=EVENT.time_us + i)
        journal.append(replace(event, decision=decision) if i == 4 else event)
    return journal


def signer(
    journal: SqlJournal, tmp_path: Path, name: str, cosigner: Collector | None
) -> Checkpointer:
    publisher = DirectoryPublisher(tmp_path / name)
    return Checkpointer(journal, LOG_SIGNER, ORIGIN, publisher, FixedClock(), cosigner=cosigner)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "vault.cli", "journal", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def write_export(journal: SqlJournal, path: Path) -> str:
    path.write_bytes(b"".join(export_lines(journal.entries(), dict(journal.checkpoints()))))
    return str(path)


def write_inclusion_proof(journal: SqlJournal, path: Path) -> str:
    size, note = journal.checkpoints()[-1]
    entry = next(iter(journal.entries(5, 5))).canonical
    hashes = SqlMerkleTree(journal.engine).prove(inclusion_ranges(4, size))
    path.write_bytes(inclusion_document(note, 5, entry, hashes))
    return str(path)


@pytest.fixture
def split_view(tmp_path: Path) -> tuple[SqlJournal, SqlJournal]:
    """`honest` cosigned and published; `forked` refused by the witness, then published
    by the attacker with the log's signature alone."""
    honest = history(tmp_path, "honest", "allow")
    forked = history(tmp_path, "forked", "deny")  # entry 5 says otherwise
    with serving(tmp_path / "witness.json") as url:
        collector = Collector(witnessing([url], [WITNESS_KEY], quorum=1))
        signer(honest, tmp_path, "honest", collector).checkpoint()
        with pytest.raises(UnavailableError, match="quorum"):
            signer(forked, tmp_path, "forked", collector).checkpoint()  # 409: a fork
        assert not list((tmp_path / "forked").glob("checkpoint-*"))
    signer(forked, tmp_path, "forked", None).checkpoint()  # the attacker's own publication
    return honest, forked


def test_split_view_fork_is_refused_by_the_witness_and_rejected_by_journal_verify(
    tmp_path: Path, split_view: tuple[SqlJournal, SqlJournal]
) -> None:
    honest, forked = split_view
    witness = ["--key", LOG_KEY.encode(), "--witness-key", WITNESS_KEY.encode()]
    for name, journal, expected in (("honest", honest, 0), ("forked", forked, EXIT_NO_QUORUM)):
        export = write_export(journal, tmp_path / f"{name}.jsonl")
        result = run("verify", export, "--checkpoints", str(tmp_path / name), *witness)
        assert result.returncode == expected, result.stderr
        without_witnesses = run("verify", export, "--key", LOG_KEY.encode())
        assert without_witnesses.returncode == 0  # the log's signature alone: both pass
    assert EXIT_NO_QUORUM == 34
    assert "witness-quorum" in result.stderr


def test_split_view_fork_is_rejected_by_verify_proof(
    tmp_path: Path, split_view: tuple[SqlJournal, SqlJournal]
) -> None:
    honest, forked = split_view
    witness = ["--key", LOG_KEY.encode(), "--witness-key", WITNESS_KEY.encode()]
    good = run("verify-proof", write_inclusion_proof(honest, tmp_path / "h.json"), *witness)
    assert good.returncode == 0, good.stderr
    bad = run("verify-proof", write_inclusion_proof(forked, tmp_path / "f.json"), *witness)
    assert bad.returncode == EXIT_NO_QUORUM, bad.stderr


def test_cosignatures_copied_from_the_honest_checkpoint_do_not_vouch_for_the_fork(
    tmp_path: Path, split_view: tuple[SqlJournal, SqlJournal]
) -> None:
    honest, forked = split_view
    honest_note, forked_note = honest.checkpoints()[-1][1], forked.checkpoints()[-1][1]
    stolen = [line + "\n" for line in honest_note.splitlines() if "witness.test" in line]
    assert stolen
    assert valid_cosigners(forked_note + "".join(stolen), [WITNESS_KEY]) == set()
    published = tmp_path / "forked" / "checkpoint-00000000000000000010.txt"
    published.unlink()
    published.write_text(forked_note + "".join(stolen))
    export = tmp_path / "forked-bare.jsonl"
    export.write_bytes(b"".join(export_lines(forked.entries(), {})))
    result = run(
        "verify", str(export), "--checkpoints", str(tmp_path / "forked"), "--key",
        LOG_KEY.encode(), "--witness-key", WITNESS_KEY.encode(),
    )  # fmt: skip
    assert result.returncode == EXIT_NO_QUORUM, result.stderr


def test_quorum_without_witness_keys_is_a_usage_error(tmp_path: Path) -> None:
    result = run("verify", "-", "--key", LOG_KEY.encode(), "--witness-quorum", "1")
    assert result.returncode == 3
