"""`SqlJournal`: the journal on SQLAlchemy (SQLite or PostgreSQL), possibly its own database.

Two tables: `journal_entries` (one row per entry: its canonical bytes and hashes) and
`journal_head` (a single row: last sequence number and chain hash). An append locks the
head row (`SELECT ... FOR UPDATE` on PostgreSQL; `BEGIN IMMEDIATE` on SQLite), writes the
entry after it and moves the head, in one transaction: appenders from any number of
processes queue on that lock, so the chain never forks and sequence numbers never gap.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy import exc as sa_exc

from vault.journal.chain import (
    GENESIS_HASH,
    JournalEntry,
    JournalEvent,
    parse_canonical,
    seal_entry,
)
from vault.sqlstore import guard

metadata = MetaData()

entries_table = Table(
    "journal_entries",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("time_us", BigInteger, nullable=False),
    Column("dossier", String(36), nullable=True, index=True),
    Column("body", Text, nullable=False),
    Column("entry_hash", LargeBinary(32), nullable=False),
    Column("chain_hash", LargeBinary(32), nullable=False),
)

head_table = Table(
    "journal_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("chain_hash", LargeBinary(32), nullable=False),
)


def _entry(row: Any) -> JournalEntry:
    seq, event, prev = parse_canonical(row.body.encode())
    return JournalEntry(seq, event, prev, row.entry_hash, row.chain_hash)


class SqlJournal:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_schema(self) -> None:
        with guard():
            metadata.create_all(self._engine)
            try:
                with self._engine.begin() as conn:
                    if conn.execute(select(head_table.c.id)).first() is None:
                        conn.execute(
                            insert(head_table).values(id=1, seq=0, chain_hash=GENESIS_HASH)
                        )
            except sa_exc.IntegrityError:
                pass  # another process created the head row first

    def append(self, event: JournalEvent) -> JournalEntry:
        with guard(), self._engine.begin() as conn:
            head = conn.execute(
                select(head_table.c.seq, head_table.c.chain_hash)
                .where(head_table.c.id == 1)
                .with_for_update()
            ).one()
            entry = seal_entry(head.seq + 1, event, head.chain_hash)
            conn.execute(
                insert(entries_table).values(
                    seq=entry.seq,
                    time_us=event.time_us,
                    dossier=event.dossier,
                    body=entry.canonical.decode(),
                    entry_hash=entry.entry_hash,
                    chain_hash=entry.chain_hash,
                )
            )
            conn.execute(
                update(head_table)
                .where(head_table.c.id == 1)
                .values(seq=entry.seq, chain_hash=entry.chain_hash)
            )
        return entry

    def entries(self, first_seq: int = 1) -> Iterator[JournalEntry]:
        query = (
            select(entries_table)
            .where(entries_table.c.seq >= first_seq)
            .order_by(entries_table.c.seq)
        )
        with guard(), self._engine.connect() as conn:
            for row in conn.execution_options(yield_per=1000).execute(query):
                yield _entry(row)
