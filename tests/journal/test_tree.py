"""The stored Merkle tree (SQLite and PostgreSQL): the checkpointer extends it and signs
its root; proofs from its stored nodes equal proofs from the naive tree; a tampered node
is never extended from, and a journal whose old checkpoints are v1 moves on to v2."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.journal.test_chain import EVENT
from tests.journal.test_checkpoint import ORIGIN, SIGNER
from tests.journal.test_merkle import ListSource, naive_mth
from tests.journal.test_tamper_db import FixedClock
from tests.journal.test_verify import chain as verified_chain
from vault.errors import IntegrityError
from vault.journal.checkpoint import Checkpoint, VerifierKey, open_note, sign
from vault.journal.checkpointer import Checkpointer, DirectoryPublisher
from vault.journal.export import export_lines
from vault.journal.merkle import (
    Frontier,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    prove,
    verify_consistency,
    verify_inclusion,
)
from vault.journal.sql import SqlJournal
from vault.journal.tree import RecordingFrontier, SqlMerkleTree, nodes_table, stored
from vault.journal.verify import verify_export
from vault.sqlstore import make_engine

KEY = VerifierKey(ORIGIN, SIGNER.public_key)


@dataclass
class Journal:
    journal: SqlJournal
    tree: SqlMerkleTree
    checkpointer: Checkpointer
    publisher: DirectoryPublisher

    def append(self, count: int) -> None:
        start = self.journal.head().seq
        self.journal.append_many([replace(EVENT, request_id=f"r{start + i}") for i in range(count)])

    def entries(self) -> list[bytes]:
        return [entry.canonical for entry in self.journal.entries()]


@pytest.fixture
def journal(db_url: str, tmp_path: Path) -> Iterator[Journal]:
    engine = make_engine(db_url)
    sql = SqlJournal(engine)
    sql.create_schema()
    publisher = DirectoryPublisher(tmp_path / "pub")
    yield Journal(
        sql,
        SqlMerkleTree(engine),
        Checkpointer(sql, SIGNER, ORIGIN, publisher, FixedClock()),
        publisher,
    )
    engine.dispose()


def test_checkpoints_sign_the_merkle_root_and_the_chain_hash(journal: Journal) -> None:
    for count in (300, 1, 400):
        journal.append(count)
        note = journal.checkpointer.checkpoint()
        assert note is not None
        checkpoint = open_note(note, KEY)
        assert checkpoint.version == 2
        assert checkpoint.root == naive_mth(journal.entries())
        assert checkpoint.chain_hash == journal.journal.head().chain_hash
    assert journal.tree.size() == 701


def test_proofs_from_the_stored_nodes_equal_the_naive_trees(journal: Journal) -> None:
    journal.append(600)
    journal.checkpointer.checkpoint()
    leaves = journal.entries()
    naive, tree = ListSource(leaves), journal.tree
    rng = random.Random(7)
    for _ in range(12):
        size = rng.randint(1, 600)
        index, old = rng.randrange(size), rng.randint(1, size)
        proof = tree.prove(inclusion_ranges(index, size))
        assert proof == prove(inclusion_ranges(index, size), naive)
        verify_inclusion(index, size, leaf_hash(leaves[index]), proof, naive_mth(leaves[:size]))
        proof = tree.prove(consistency_ranges(old, size))
        assert proof == prove(consistency_ranges(old, size), naive)
        verify_consistency(old, size, naive_mth(leaves[:old]), naive_mth(leaves[:size]), proof)


def test_a_tampered_stored_node_is_never_extended_from(journal: Journal) -> None:
    journal.append(700)
    journal.checkpointer.checkpoint()
    with journal.journal.engine.begin() as conn:
        conn.execute(
            update(nodes_table)
            .where(nodes_table.c.level == 8, nodes_table.c.idx == 0)
            .values(hash=bytes(32))
        )
    journal.append(5)
    with pytest.raises(IntegrityError, match="rewritten-history at sequence 700: the Merkle root"):
        journal.checkpointer.checkpoint()


def test_a_journal_checkpointed_in_v1_moves_on_to_v2(journal: Journal) -> None:
    """An existing deployment: v1 checkpoints published, no tree yet. The next checkpoint
    builds the tree from the genesis, checked against the v1 chain head, and signs v2."""
    journal.append(300)
    head = journal.journal.head()
    v1 = sign(Checkpoint(ORIGIN, head.seq, head.chain_hash, head.time_us), ORIGIN, SIGNER)
    journal.publisher.publish(head.seq, v1)
    journal.journal.add_checkpoint(head.seq, v1)
    journal.append(10)
    note = journal.checkpointer.checkpoint()
    assert note is not None
    assert open_note(note, KEY).root == naive_mth(journal.entries())
    assert journal.tree.size() == 310


def test_a_second_extension_from_the_same_size_is_dropped(journal: Journal) -> None:
    """Two servers extending at once: the size is compare-and-set, the loser's identical
    nodes are not written twice, and the tree stays the one the entries give."""
    journal.append(600)
    first, second = journal.tree.frontier(0), journal.tree.frontier(0)
    for frontier in (first, second):
        for canonical in journal.entries():
            frontier.append(leaf_hash(canonical))
    assert journal.tree.extend(0, first)
    assert not journal.tree.extend(0, second)
    assert journal.tree.size() == 600
    assert journal.tree.frontier(600).root() == naive_mth(journal.entries())


def test_the_verifier_extends_a_recording_frontier_with_what_it_records() -> None:
    """The replay hands the verifier a RecordingFrontier: the verifier's fast `push`
    must still record the stored-level subtrees (a tree missing them fails later)."""
    entries = verified_chain(600)
    recording, plain = RecordingFrontier(), Frontier()
    verify_export(export_lines(entries, {}), None, tree=recording)
    expected = []
    for entry in entries:
        expected += [n for n in plain.append(leaf_hash(entry.canonical)) if stored(n[0])]
    assert recording.completed == expected != []
    assert recording.root() == plain.root()
