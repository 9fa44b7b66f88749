"""`SqlMerkleTree`: the journal's Merkle tree, kept in its database beside the entries.

Off the append path (ADR 0027): appends never touch these tables; the checkpointer
extends the tree to each checkpoint's size, from the entries it replays anyway. Stored:

- `journal_merkle_tree`: one row, the number of leaves the stored nodes cover (`size`);
- `journal_merkle_nodes`: the hash of every complete perfect subtree whose level is a
  multiple of 8 (256, 65,536, 16,777,216 leaves...), by (level, index); 1/255 of a row
  per entry. Leaves are not stored: a leaf hash is SHA-256(0x00 || the entry's bytes),
  read from `journal_entries`.

Any subtree's hash is then one read of at most 128 rows (entries, or nodes of the level
below) plus the hashing, so a proof at 10 million entries costs a few dozen reads
(`Reader` reads them on one connection and memoises the nodes one proof shares). What
it does not do: decide when to extend (vault/journal/checkpointer.py), verify the
entries it extends over (the checkpointer's replay does, before `extend`), or sign.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    LargeBinary,
    SmallInteger,
    Table,
    and_,
    insert,
    select,
    update,
)
from sqlalchemy import exc as sa_exc

from vault.errors import IntegrityError
from vault.journal.merkle import (
    Frontier,
    fold,
    frontier_nodes,
    leaf_hash,
    perfect_nodes,
    perfect_root,
    prove,
)
from vault.journal.sql import entries_table, metadata
from vault.sqlstore import Database, guard, writing

STRIDE = 8  # the stored levels: multiples of 8

tree_table = Table(
    "journal_merkle_tree",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
)

nodes_table = Table(
    "journal_merkle_nodes",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)


def stored(level: int) -> bool:
    return level > 0 and level % STRIDE == 0


class RecordingFrontier(Frontier):
    """A frontier that keeps the stored-level subtrees its appends complete."""

    __slots__ = ("completed",)

    def __init__(self, size: int = 0, hashes: tuple[bytes, ...] | list[bytes] = ()) -> None:
        super().__init__(size, hashes)
        self.completed: list[tuple[int, int, bytes]] = []

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        done = super().append(leaf)
        self.completed += [node for node in done if stored(node[0])]
        return done

    def push(self, leaf: bytes) -> None:
        self.append(leaf)  # recorded, whichever the caller uses


class Reader:
    """Subtree hashes of the stored tree on one connection (one transaction), each
    perfect subtree read once: what one proof or one frontier reads."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._known: dict[tuple[int, int], bytes] = {}

    def perfect(self, level: int, index: int) -> bytes:
        """The hash of the perfect subtree of 2^level leaves from leaf index << level."""
        key = (level, index)
        if key not in self._known:
            self._known[key] = self._read(level, index)
        return self._known[key]

    def _read(self, level: int, index: int) -> bytes:
        if stored(level):
            return self._nodes(level, index, index + 1)[0]
        base = level - level % STRIDE
        first, count = index << (level - base), 1 << (level - base)
        if base == 0:
            return perfect_root(self.leaves(first, first + count))
        return perfect_root(self._nodes(base, first, first + count))

    def mth(self, start: int, end: int) -> bytes:
        return fold([self.perfect(level, i) for level, i in perfect_nodes(start, end)])

    def _nodes(self, level: int, first: int, end: int) -> list[bytes]:
        table = nodes_table
        query = (
            select(table.c.hash)
            .where(and_(table.c.level == level, table.c.idx >= first, table.c.idx < end))
            .order_by(table.c.idx)
        )
        hashes = list(self._conn.execute(query).scalars())
        if len(hashes) != end - first:
            raise IntegrityError("the journal's Merkle tree lacks nodes it should hold")
        return hashes

    def leaves(self, first: int, end: int) -> list[bytes]:
        """Leaf hashes [first, end) (entries first + 1 to end)."""
        table = entries_table
        query = (
            select(table.c.body)
            .where(and_(table.c.seq > first, table.c.seq <= end))
            .order_by(table.c.seq)
        )
        hashes = [leaf_hash(body.encode()) for body in self._conn.execute(query).scalars()]
        if len(hashes) != end - first:
            raise IntegrityError("the journal lacks entries its Merkle tree covers")
        return hashes


class SqlMerkleTree(Database):
    def size(self) -> int:
        with guard(), self._engine.connect() as conn:
            return int(conn.execute(select(tree_table.c.size)).scalar() or 0)

    def prove(self, ranges: Iterable[tuple[int, int]]) -> list[bytes]:
        """The MTH of each subtree range, read in one transaction."""
        with guard(), self._engine.connect() as conn:
            return prove(ranges, Reader(conn))

    def frontier(self, size: int) -> RecordingFrontier:
        """The compact range of the first `size` leaves (at most the stored size)."""
        with guard(), self._engine.connect() as conn:
            reader = Reader(conn)
            hashes = [reader.perfect(level, index) for level, index in frontier_nodes(size)]
        return RecordingFrontier(size, hashes)

    def extend(self, old_size: int, frontier: RecordingFrontier) -> bool:
        """Stores the nodes `frontier` completed beyond `old_size` and moves the size to
        its own; False if another process moved it first (its nodes are the same)."""
        rows = [
            {"level": level, "idx": index, "hash": digest}
            for level, index, digest in frontier.completed
            if (index + 1) << level > old_size
        ]
        try:
            with guard(), writing(self._engine) as conn:
                if rows:
                    conn.execute(insert(nodes_table), rows)
                if old_size == 0 and conn.execute(select(tree_table.c.id)).first() is None:
                    conn.execute(insert(tree_table).values(id=1, size=frontier.size))
                    return True
                moved = conn.execute(
                    update(tree_table)
                    .where(and_(tree_table.c.id == 1, tree_table.c.size == old_size))
                    .values(size=frontier.size)
                )
                if moved.rowcount != 1:
                    raise _MovedError
        except (sa_exc.IntegrityError, _MovedError):
            return False
        return True


class _MovedError(Exception):
    """Another process extended the tree first: roll back ours."""
