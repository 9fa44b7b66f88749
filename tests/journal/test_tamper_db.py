"""Tampering with a real journal database (SQLite and PostgreSQL) is caught by the verifier,
reading an export of it and the checkpoints published outside the database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from tests.journal.test_chain import EVENT
from tests.journal.test_checkpoint import ORIGIN, SIGNER
from vault.errors import IntegrityError
from vault.journal.chain import GENESIS_HASH
from vault.journal.checkpoint import VerifierKey
from vault.journal.checkpointer import Checkpointer, DirectoryPublisher
from vault.journal.export import export_lines
from vault.journal.sql import SqlJournal, checkpoints_table, entries_table, head_table
from vault.journal.verify import FailureKind, Summary, VerificationError, verify_export
from vault.sqlstore import make_engine

KEY = VerifierKey(ORIGIN, SIGNER.public_key)


class FixedClock:
    def now(self) -> datetime:
        return datetime(2026, 11, 25, tzinfo=UTC)


@pytest.fixture
def journal(db_url: str, tmp_path: Path) -> Iterator[SqlJournal]:
    engine = make_engine(db_url)
    journal = SqlJournal(engine)
    journal.create_schema()
    checkpointer = Checkpointer(
        journal, SIGNER, ORIGIN, DirectoryPublisher(tmp_path / "pub"), FixedClock()
    )
    for i in range(20):
        journal.append(replace(EVENT, request_id=f"r{i}", time_us=EVENT.time_us + i))
        if i in (9, 19):
            checkpointer.checkpoint()
    yield journal
    engine.dispose()


def published(tmp_path: Path) -> list[str]:
    return [p.read_text() for p in sorted((tmp_path / "pub").glob("checkpoint-*.txt"))]


def verify(journal: SqlJournal, tmp_path: Path, *, expect_complete: bool = False) -> Summary:
    lines = export_lines(journal.entries(), dict(journal.checkpoints()))
    try:
        return verify_export(lines, KEY, published(tmp_path), expect_complete=expect_complete)
    finally:
        lines.close()  # ends the read transaction of a stream the verifier stopped early


def caught(
    journal: SqlJournal, tmp_path: Path, *, expect_complete: bool = False
) -> VerificationError:
    with pytest.raises(VerificationError) as failure:
        verify(journal, tmp_path, expect_complete=expect_complete)
    return failure.value


def checkpointer(journal: SqlJournal, tmp_path: Path) -> Checkpointer:
    publisher = DirectoryPublisher(tmp_path / "pub")
    return Checkpointer(journal, SIGNER, ORIGIN, publisher, FixedClock())


def rewrite_history(journal: SqlJournal) -> None:
    """The administrator's forgery: every row rechained with one decision changed."""
    genuine = list(journal.entries())
    execute(journal, delete(entries_table))
    execute(journal, delete(checkpoints_table))
    execute(journal, update(head_table).values(seq=0, chain_hash=GENESIS_HASH, time_us=0))
    journal.append_many(
        [e.event if e.seq != 3 else replace(e.event, decision="deny") for e in genuine]
    )


def execute(journal: SqlJournal, statement: object) -> None:
    with journal._engine.begin() as conn:
        conn.execute(statement)  # type: ignore[call-overload]


def test_untouched_journal_verifies_against_both_checkpoints(
    journal: SqlJournal, tmp_path: Path
) -> None:
    summary = verify(journal, tmp_path)
    assert summary.entries == 20
    assert summary.checkpoints_matched == [10, 20]


def test_field_edited_in_the_database_is_caught(journal: SqlJournal, tmp_path: Path) -> None:
    row = next(e for e in journal.entries() if e.seq == 7)
    body = row.canonical.decode().replace('"decision":"allow"', '"decision":"deny"')
    execute(journal, update(entries_table).where(entries_table.c.seq == 7).values(body=body))
    failure = caught(journal, tmp_path)
    assert (failure.kind, failure.seq) == (FailureKind.EDITED_ENTRY, 7)


def test_deleted_row_is_caught(journal: SqlJournal, tmp_path: Path) -> None:
    execute(journal, delete(entries_table).where(entries_table.c.seq == 12))
    failure = caught(journal, tmp_path)
    assert (failure.kind, failure.seq) == (FailureKind.GAP, 12)


def test_truncated_tail_is_caught_by_the_published_checkpoint(
    journal: SqlJournal, tmp_path: Path
) -> None:
    execute(journal, delete(entries_table).where(entries_table.c.seq > 15))
    execute(journal, delete(checkpoints_table).where(checkpoints_table.c.size > 15))
    assert caught(journal, tmp_path, expect_complete=True).kind is FailureKind.TAIL_CUT


def test_whole_table_replaced_by_a_rechained_forgery_is_caught(
    journal: SqlJournal, tmp_path: Path
) -> None:
    rewrite_history(journal)
    failure = caught(journal, tmp_path)
    assert (failure.kind, failure.seq) == (FailureKind.REWRITTEN_HISTORY, 10)


def test_checkpointer_refuses_to_sign_a_rewritten_journal_whose_checkpoint_rows_were_deleted(
    journal: SqlJournal, tmp_path: Path
) -> None:
    rewrite_history(journal)
    journal.append(replace(EVENT, request_id="after", time_us=EVENT.time_us + 100))
    with pytest.raises(IntegrityError, match="published checkpoint"):
        checkpointer(journal, tmp_path).checkpoint()
    assert len(published(tmp_path)) == 2  # nothing new was signed
    assert journal.checkpoints() == []


def test_checkpointer_refuses_to_sign_a_journal_cut_below_its_published_checkpoint(
    journal: SqlJournal, tmp_path: Path
) -> None:
    fifteenth = next(e for e in journal.entries() if e.seq == 15)
    execute(journal, delete(entries_table).where(entries_table.c.seq > 15))
    execute(journal, delete(checkpoints_table))
    execute(journal, update(head_table).values(seq=15, chain_hash=fifteenth.chain_hash))
    with pytest.raises(IntegrityError):
        checkpointer(journal, tmp_path).checkpoint()


def test_deleted_checkpoint_rows_of_an_intact_journal_are_restored_not_re_signed(
    journal: SqlJournal, tmp_path: Path
) -> None:
    execute(journal, delete(checkpoints_table))
    signer = checkpointer(journal, tmp_path)
    assert signer.checkpoint() is None
    assert [size for size, _ in journal.checkpoints()] == [20]
    journal.append(replace(EVENT, request_id="after", time_us=EVENT.time_us + 100))
    assert signer.checkpoint() is not None
    assert verify(journal, tmp_path, expect_complete=True).checkpoints_matched == [10, 20, 21]


def test_checkpoint_signature_changed_in_the_database_is_caught(
    journal: SqlJournal, tmp_path: Path
) -> None:
    (size, note), *_ = journal.checkpoints()
    forged = note[:-6] + ("AAAA" if note[-6:-2] != "AAAA" else "BBBB") + note[-2:]
    execute(
        journal,
        update(checkpoints_table).where(checkpoints_table.c.size == size).values(note=forged),
    )
    assert caught(journal, tmp_path).kind is FailureKind.BAD_SIGNATURE


def test_swapped_rows_are_caught(journal: SqlJournal, tmp_path: Path) -> None:
    execute(journal, update(entries_table).where(entries_table.c.seq == 4).values(seq=-4))
    execute(journal, update(entries_table).where(entries_table.c.seq == 5).values(seq=4))
    execute(journal, update(entries_table).where(entries_table.c.seq == -4).values(seq=5))
    assert caught(journal, tmp_path).kind in {FailureKind.REORDERING, FailureKind.GAP}
