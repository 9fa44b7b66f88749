"""`SqlJournal`: the journal on SQLAlchemy (SQLite or PostgreSQL), possibly its own database.

Tables: `journal_entries` (one row per entry: its canonical bytes, hashes, and the few
columns the patient and auditor queries filter on), `journal_head` (a single row: last
sequence number, chain hash and time) and `journal_checkpoints` (signed checkpoints, also
published outside the database). An append locks the head row (`SELECT ... FOR UPDATE`
on PostgreSQL; `BEGIN IMMEDIATE` on SQLite), writes the entries after it and moves the
head, in one transaction: appenders from any number of processes queue on that lock, so
the chain never forks and sequence numbers never gap. Entry times never go backwards:
an entry gets max(its event's time, the head's time). When the index shares the
journal's database, an append can carry index writes into its transaction (an upload's
reservation with the entry of the decision that allowed it: docs/adr/0014).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy import exc as sa_exc

from vault import migrations
from vault.journal.chain import (
    GENESIS_HASH,
    JournalEntry,
    JournalEvent,
    parse_canonical,
    seal_entry,
)
from vault.journal.store import EntryFilter
from vault.sqlstore import Database, guard, joining, writing

metadata = MetaData()

entries_table = Table(
    "journal_entries",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("time_us", BigInteger, nullable=False),
    Column("dossier", String(36), nullable=True),
    Column("actor_ref", String(128), nullable=False),
    Column("decision", String(8), nullable=False),
    Column("emergency", Boolean, nullable=False),
    Column("body", Text, nullable=False),
    Column("entry_hash", LargeBinary(32), nullable=False),
    Column("chain_hash", LargeBinary(32), nullable=False),
    Index("ix_journal_dossier", "dossier", "seq"),
    Index("ix_journal_actor", "actor_ref", "seq"),
    Index("ix_journal_time", "time_us"),
)
Index(
    "ix_journal_emergency",
    entries_table.c.seq,
    postgresql_where=entries_table.c.emergency,
    sqlite_where=entries_table.c.emergency,
)
Index(
    "ix_journal_denials",
    entries_table.c.seq,
    postgresql_where=entries_table.c.decision == "deny",
    sqlite_where=entries_table.c.decision == "deny",
)

head_table = Table(
    "journal_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("chain_hash", LargeBinary(32), nullable=False),
    Column("time_us", BigInteger, nullable=False),
)

checkpoints_table = Table(
    "journal_checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("note", Text, nullable=False),
)

# An append's statements, built once (each batch of the group commit runs them).
_LOCK_HEAD = (
    select(head_table.c.seq, head_table.c.chain_hash, head_table.c.time_us)
    .where(head_table.c.id == 1)
    .with_for_update()
)
_INSERT_ENTRIES = insert(entries_table)
_MOVE_HEAD = (
    update(head_table)
    .where(head_table.c.id == 1)
    .values(
        seq=bindparam("b_seq"),
        chain_hash=bindparam("b_chain_hash"),
        time_us=bindparam("b_time_us"),
    )
)


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    chain_hash: bytes
    time_us: int


def _entry(row: Any) -> JournalEntry:
    body = row.body.encode()
    seq, event, prev = parse_canonical(body)
    return JournalEntry(seq, event, prev, row.entry_hash, row.chain_hash, body)


class SqlJournal(Database):
    def create_schema(self) -> None:
        """Creates the tables in an empty database (and the head row); refuses a schema
        that is not at the newest revision (vault/migrations)."""
        migrations.prepare(self._engine, migrations.JOURNAL)
        with guard():
            try:
                with writing(self._engine) as conn:
                    if conn.execute(select(head_table.c.id)).first() is None:
                        conn.execute(
                            insert(head_table).values(
                                id=1, seq=0, chain_hash=GENESIS_HASH, time_us=0
                            )
                        )
            except sa_exc.IntegrityError:
                pass  # another process created the head row first

    def append(self, event: JournalEvent) -> JournalEntry:
        return self.append_many([event])[0]

    def append_many(
        self, events: Sequence[JournalEvent], writes: Sequence[Callable[[], None]] = ()
    ) -> list[JournalEntry]:
        """Appends `events` in order, in one transaction (group commit). `writes` run first
        in that transaction, each in a savepoint (`sqlstore.joining`): what they write on
        this database through another adapter (an upload's reservation) commits with the
        entries, in one durable commit. They handle their own errors: one that raises
        fails the whole transaction."""
        sealed: list[JournalEntry] = []
        with guard(), writing(self._engine) as conn:
            head = conn.execute(_LOCK_HEAD).one()
            seq, prev, time_us = head.seq, head.chain_hash, head.time_us
            if writes:
                with joining(conn):
                    for write in writes:
                        write()
            for event in events:
                time_us = max(time_us, event.time_us)
                seq += 1
                entry = seal_entry(seq, replace(event, time_us=time_us), prev)
                sealed.append(entry)
                prev = entry.chain_hash
            if not sealed:
                return sealed  # writes alone: nothing appended, the head unchanged
            conn.execute(_INSERT_ENTRIES, [self._row(entry) for entry in sealed])
            conn.execute(_MOVE_HEAD, {"b_seq": seq, "b_chain_hash": prev, "b_time_us": time_us})
        return sealed

    @staticmethod
    def _row(entry: JournalEntry) -> dict[str, object]:
        event = entry.event
        return {
            "seq": entry.seq,
            "time_us": event.time_us,
            "dossier": event.dossier,
            "actor_ref": event.actor_ref,
            "decision": event.decision,
            "emergency": event.emergency,
            "body": entry.canonical.decode(),
            "entry_hash": entry.entry_hash,
            "chain_hash": entry.chain_hash,
        }

    def head(self) -> Head:
        with guard(), self._engine.connect() as conn:
            row = conn.execute(
                select(head_table.c.seq, head_table.c.chain_hash, head_table.c.time_us)
            ).one()
        return Head(row.seq, row.chain_hash, row.time_us)

    def entries(
        self,
        first_seq: int = 1,
        last_seq: int | None = None,
        *,
        since_us: int | None = None,
        until_us: int | None = None,
    ) -> Iterator[JournalEntry]:
        query = select(entries_table).where(entries_table.c.seq >= first_seq)
        if last_seq is not None:
            query = query.where(entries_table.c.seq <= last_seq)
        if since_us is not None:
            query = query.where(entries_table.c.time_us >= since_us)
        if until_us is not None:
            query = query.where(entries_table.c.time_us < until_us)
        with guard(), self._engine.connect() as conn:
            result = conn.execution_options(yield_per=2000).execute(
                query.order_by(entries_table.c.seq)
            )
            for row in result:
                yield _entry(row)

    def query(self, where: EntryFilter, limit: int) -> list[JournalEntry]:
        """One page of the entries matching `where`, in sequence (hence time) order."""
        table = entries_table
        query = select(table).where(table.c.seq > where.after_seq)
        if where.dossier is not None:
            query = query.where(table.c.dossier == where.dossier)
        if where.actor_ref is not None:
            query = query.where(table.c.actor_ref == where.actor_ref)
        if where.emergency_only:
            query = query.where(table.c.emergency)
        if where.denials_only:
            query = query.where(table.c.decision == "deny")
        with guard(), self._engine.connect() as conn:
            rows = conn.execute(query.order_by(table.c.seq).limit(limit))
            return [_entry(row) for row in rows]

    def add_checkpoint(self, size: int, note: str) -> bool:
        """Records a signed checkpoint; False if one of that size exists already."""
        try:
            with guard(), writing(self._engine) as conn:
                conn.execute(insert(checkpoints_table).values(size=size, note=note))
        except sa_exc.IntegrityError:
            return False
        return True

    def checkpoints(
        self, first_size: int = 0, last_size: int | None = None
    ) -> list[tuple[int, str]]:
        table = checkpoints_table
        query = select(table.c.size, table.c.note).where(table.c.size >= first_size)
        if last_size is not None:
            query = query.where(table.c.size <= last_size)
        with guard(), self._engine.connect() as conn:
            return [(row.size, row.note) for row in conn.execute(query.order_by(table.c.size))]

    def last_checkpoint_size(self) -> int:
        with guard(), self._engine.connect() as conn:
            sizes = conn.execute(
                select(checkpoints_table.c.size).order_by(checkpoints_table.c.size.desc())
            )
            return int(sizes.scalar() or 0)
