"""Index benchmark (issue #5): listing and counting a dossier's documents, 100k to 10M.

    python -m bench.bench_index [--documents 10000000] [--dossiers 1000000]
                                [--checkpoints 100000,1000000,10000000] [--samples 2000]
                                [--writes 2000] [--backends sqlite,postgresql]
                                [--quick] [--keep] [--json]

For each index backend (SQLite: a file under `--sqlite-dir`, default /tmp; PostgreSQL:
`VAULT_BENCH_POSTGRES_URL`, default the local server, in a private schema created here and
dropped at the end unless `--keep`), the schema is created with `SqlIndex.create_schema`,
then a synthetic load generator fills it, in stages, up to each checkpoint (a number of
documents), and at each checkpoint the reads are measured through the real adapter.

The data, generated as a stream (only the current batch of rows is ever in memory, plus
16 bytes and a counter per dossier):

* dossiers: `--dossiers`, each active, with its one `dossier_keys` row (61-byte wrapped
  key, as `sealed.seal` makes), a 32-byte random patient index and a UUIDv7 id laid out
  as `new_id` lays them out (from the seeded generator: five times faster);
* documents per dossier: lognormal (sigma 1.43, at least 1) scaled so that the total is
  exactly `--documents` (mean 10 by default: median 3, 1% of dossiers hold 100 or
  more, the largest a few thousand);
* each document: a `documents` row (category skewed: biology 34%, reports 24%,
  treatments and care 10%, imaging 9%, reimbursement history 8%, synthesis 5%, prevention
  4%, vaccination 4%, advance directives 2%; visibility 0 for 95.5%, masked from
  professionals 3%, hidden from the patient 1%, from representatives 0.5%; authors mostly
  professionals (RPPS numbers), 10% the patient side), one `document_visibility` row
  (metadata version 1), one committed `document_versions` row (blob key: 32 random hex
  digits, as `new_object_key` makes them; 61-byte wrapped key, 150-250 random bytes of
  sealed metadata, size 10 KiB to 10 MiB log-uniform, a LOINC type code matching the
  category, or NULL for 15% and for categories without one, a date of care between 15
  years ago and the upload); 5% of the documents have a second committed version
  (`latest_version` 2, version 1 deprecated);
* time: `created_us` increases with every document, from 15 years ago to now, and ids are
  UUIDv7 of that time, so the primary keys grow at their end, as in production.

Dossiers are filled in cohorts (`--cohort`, by default as many dossiers as hold the first
checkpoint's documents: 10,000): a cohort's dossier rows are inserted, then its documents
in a random order of their dossiers, so that a dossier's documents lie on different pages
of the tables, as years of interleaved uploads leave them, while every checkpoint holds
complete cohorts of the same mix of dossier sizes (the first checkpoint is one cohort):
what changes from one checkpoint to the next is the size of the tables, not the dossiers.

Loading. PostgreSQL: psycopg 3 binary `COPY` into each table, one transaction per batch
(`--batch` documents), then `VACUUM (ANALYZE)` of every table after each stage, as
autovacuum would (it is off on this machine's server). SQLite: `executemany` in one
transaction per batch, on a connection that sets `PRAGMA synchronous=OFF` and a 1 GiB page
cache for the load only (both restored before it goes back to the pool: the reads and the
adapter's writes run with the vault's own settings, synchronous=FULL and the default
cache); no ANALYZE, which the vault never runs. Every index stays in place during the load,
as in production (dropping and rebuilding them was not needed to fill in time, and would
leave denser indexes than years of inserts do). Foreign keys are not checked during the
load (the rows are consistent by construction; PostgreSQL: `session_replication_role =
replica` on the loading session, as pg_restore does, which halves the COPY time; SQLite:
`PRAGMA foreign_keys=OFF` on the loading connection, restored); `--check-foreign-keys`
keeps them. Fill time is the load plus that maintenance, measurements excluded; goal:
under 30 minutes per backend.

Measured at each checkpoint, through `SqlIndex` on an engine from
`vault.sqlstore.make_engine` (query building, pooling, execution and row mapping
included, as the service sees it), after a warm-up of `--samples`/4 calls of each kind on
other dossiers, on `--samples` dossiers drawn at random (uniformly, among those filled so
far, never one read at an earlier checkpoint), then on `--samples`/4 drawn among the top 1%
by document count:

* first read: each dossier's first read since the load, with whatever the caches hold
  then (the share of the database's files in the page cache is reported): the patient's
  first page for half the dossiers, the patient's count for the other half;
* warm: right after, on the same dossiers, each of the first page of a dossier's listing
  (`_first_page`: the service asks for 101 rows for a page of 100) for the patient's scope
  (`EVERYTHING`) and for a professional's (`Scope(MASKED_FROM_PROFESSIONALS, <a nurse's
  categories>, author=<an RPPS>)`), and the count per category (`category_counts`) for both scopes;
* statement alone: for the patient's list and count, the very SQL the adapter sends
  (captured from the engine), executed and fetched on a driver connection for the same
  dossiers (warm), which tells the database's share from the adapter's;

reporting p50, p99 and max in milliseconds, the database's bytes per document
(PostgreSQL: `pg_total_relation_size` of every table of the schema, indexes and TOAST
included; SQLite: the file plus its WAL after a `wal_checkpoint(TRUNCATE)`), and the
load's rate. At the last checkpoint it prints the query plans (PostgreSQL
`EXPLAIN (ANALYZE, BUFFERS)` with the parameters sent, then the generic plan that a
prepared statement may settle on; SQLite `EXPLAIN QUERY PLAN`) of the exact statements
the index sends for the largest dossier, captured from the engine (a
`before_cursor_execute` listener), then times the adapter's own write path: `--writes`
documents, each `reserve_version` then `commit_version` (one transaction each, as
`Uploads.begin` and `Upload.commit` do) into random dossiers. Goals: first page p99
under 5 ms at 10M documents, and latencies flat within 2x from the first checkpoint to
the last.

The whole database fits in this machine's memory (24 GiB), but the page cache does not
keep what nobody reads (this VM reclaims cold pages, a few MB/s): a first read at 10M may
wait for the disk, a warm one measures CPU and cache-resident lookups. A full run takes
about 35 minutes for both backends on 2 cores; `--quick` (20,000 documents in 2,000
dossiers, checkpoints 5,000 and 20,000, 50 samples) is a smoke run of about 10 seconds.
Not a test: run on demand, from the repository root, with the dev dependencies.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import math
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from abc import ABC, abstractmethod
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import psycopg
import psycopg.sql
from sqlalchemy import Engine

from bench.bench_documents import mib, peak_rss_kib
from bench.bench_journal import postgres_schema
from bench.percentiles import percentile
from bench.statements import captured_selects
from vault.domain.ids import new_id, new_object_key
from vault.domain.model import DocumentCategory, DocumentQuery, Visibility
from vault.domain.policy import DEFAULT_MATRIX, EVERYTHING, Scope
from vault.domain.validation import DEFAULT_PAGE_SIZE
from vault.index.base import VersionRecord
from vault.index.sql import SqlIndex
from vault.service import DEFAULT_UPLOAD_LEASE
from vault.sqlstore import make_engine

DEFAULT_DOCUMENTS, QUICK_DOCUMENTS = 10_000_000, 20_000
DEFAULT_DOSSIERS, QUICK_DOSSIERS = 1_000_000, 2_000
DEFAULT_CHECKPOINTS, QUICK_CHECKPOINTS = (100_000, 1_000_000, 10_000_000), (5_000, 20_000)
DEFAULT_SAMPLES, QUICK_SAMPLES = 2_000, 50
DEFAULT_WRITES, QUICK_WRITES = 2_000, 100
BATCH_DOCUMENTS = 25_000
LEASE_US = DEFAULT_UPLOAD_LEASE // timedelta(microseconds=1)  # as the service reserves
PROGRESS = 500_000  # documents between two lines of progress on stderr
FILL_GOAL_SECONDS = 30 * 60
LATENCY_GOAL_SECONDS = 0.005
FLAT_GOAL = 2.0
US = 1_000_000
DAY_US = 86_400 * US
YEAR_US = 365 * DAY_US + DAY_US // 4
HISTORY_US = 15 * YEAR_US
SIGMA = 1.43  # lognormal documents per dossier: 1% of dossiers at 10x the mean or more
LOAD_CACHE_KIB = 1024 * 1024  # the SQLite loader's page cache, for the load only
NURSE_READS = DEFAULT_MATRIX.rights("nurse").read
PROFESSIONAL_SCOPE = Scope(  # a nurse's, with the author exemption a professional's carries
    Visibility.MASKED_FROM_PROFESSIONALS, NURSE_READS, author="10000000001"
)
CATEGORY_WEIGHTS = {
    DocumentCategory.BIOLOGY: 34,
    DocumentCategory.REPORTS: 24,
    DocumentCategory.TREATMENTS_AND_CARE: 10,
    DocumentCategory.IMAGING: 9,
    DocumentCategory.REIMBURSEMENT_HISTORY: 8,
    DocumentCategory.SYNTHESIS: 5,
    DocumentCategory.PREVENTION: 4,
    DocumentCategory.VACCINATION: 4,
    DocumentCategory.ADVANCE_DIRECTIVES: 2,
}
TYPE_CODES = {  # LOINC: the usual type of each category's documents (None: no code)
    DocumentCategory.BIOLOGY.value: "11502-2",  # laboratory report
    DocumentCategory.REPORTS.value: "34133-9",  # summary of episode note
    DocumentCategory.TREATMENTS_AND_CARE.value: "57833-6",  # prescription for medication
    DocumentCategory.IMAGING.value: "18748-4",  # diagnostic imaging study
    DocumentCategory.SYNTHESIS.value: "60591-5",  # patient summary
    DocumentCategory.PREVENTION.value: "11488-4",  # consult note
    DocumentCategory.VACCINATION.value: "11369-6",  # history of immunization
}
MIN_SIZE, LOG_SIZE_RANGE = 10 * 1024, math.log(1024)  # 10 KiB to 10 MiB, log-uniform
VISIBILITY_WEIGHTS = {0: 955, 1: 30, 2: 10, 4: 5}  # per mille
NO_TYPE_CODE = 0.15  # versions stored before revision 0005, or without a known type
SECOND_VERSION = 0.05
PATIENT_AUTHORS = 0.10
PROFESSIONALS = 50_000

# The tables, in load order, and their columns; PostgreSQL types for binary COPY.
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "dossiers": (
        ("id", "uuid"),
        ("patient_index", "bytea"),
        ("state", "varchar"),
        ("created_us", "int8"),
        ("key_version", "int4"),
        ("emergency_refused", "bool"),
        ("closed_us", "int8"),
        ("closure_reason", "varchar"),
        ("destroy_after_us", "int8"),
        ("holds", "int4"),
    ),
    "dossier_keys": (
        ("dossier_id", "uuid"),
        ("version", "int4"),
        ("master_version", "int4"),
        ("wrapped", "bytea"),
    ),
    "documents": (
        ("id", "uuid"),
        ("dossier_id", "uuid"),
        ("category", "varchar"),
        ("created_us", "int8"),
        ("latest_version", "int4"),
        ("visibility", "int4"),
        ("metadata_version", "int4"),
        ("author", "varchar"),
    ),
    "document_versions": (
        ("document_id", "uuid"),
        ("version", "int4"),
        ("status", "varchar"),
        ("created_us", "int8"),
        ("blob_key", "varchar"),
        ("dossier_key_version", "int4"),
        ("wrapped_key", "bytea"),
        ("sealed_metadata", "bytea"),
        ("size", "int8"),
        ("ciphertext_size", "int8"),
        ("type_code", "varchar"),
        ("care_us", "int8"),
    ),
    "document_visibility": (
        ("document_id", "uuid"),
        ("metadata_version", "int4"),
        ("visibility", "int4"),
        ("changed_us", "int8"),
        ("changed_by", "varchar"),
    ),
}

Row = tuple[object, ...]


def _first_page(
    index: SqlIndex, dossier_id: uuid.UUID, scope: Scope = EVERYTHING
) -> list[VersionRecord]:
    """The first page of a dossier's listing, as the service asks for it: one row more
    than the page, which tells whether there is a next one."""
    return index.search(dossier_id, scope, DocumentQuery(), DEFAULT_PAGE_SIZE + 1)


# -- the load generator -----------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """What to fill, and where to stop and measure."""

    documents: int
    dossiers: int
    checkpoints: tuple[int, ...]
    cohort: int
    batch: int
    seed: int


@dataclass
class Batch:
    """Rows for one load transaction, per table (in TABLES order)."""

    rows: dict[str, list[Row]] = field(default_factory=lambda: {t: [] for t in TABLES})

    @property
    def documents(self) -> int:
        return len(self.rows["documents"])


def document_counts(dossiers: int, documents: int, mean: float, rng: random.Random) -> array[int]:
    """Documents per dossier for a cohort: lognormal of `mean` (sigma SIGMA), at least
    1, summing to exactly `documents`."""
    mu = math.log(mean) - SIGMA * SIGMA / 2
    drawn = [rng.lognormvariate(mu, SIGMA) for _ in range(dossiers)]
    scale = documents / sum(drawn)
    counts = array("q", (max(1, round(x * scale)) for x in drawn))
    excess = sum(counts) - documents
    while excess != 0:  # +-1 on random dossiers
        d = rng.randrange(dossiers)
        if excess > 0 and counts[d] > 1:
            counts[d] -= 1
            excess -= 1
        elif excess < 0:
            counts[d] += 1
            excess += 1
    return counts


class Generator:
    """The stream of batches, cohort by cohort; never a batch across a checkpoint.

    `ident` turns a UUID (an int) into what the backend stores (SQLite: 32 hex digits, as
    SQLAlchemy's `Uuid` writes it there; PostgreSQL: the UUID itself)."""

    def __init__(self, shape: Shape, now_us: int, ident: Callable[[int], object]) -> None:
        self.shape = shape
        self._rng = random.Random(shape.seed)
        self._ident = ident
        self._start_us = now_us - HISTORY_US
        self._now_us = now_us
        self.filled = array("q", bytes(8 * shape.dossiers))  # documents so far, per dossier
        self.ids = bytearray(16 * shape.dossiers)  # dossier ids, as bytes
        self._keys: dict[int, object] = {}  # the current cohort's dossier ids, stored form
        self.dossiers = 0  # dossier rows inserted so far
        self.documents = 0
        self._categories = [c.value for c in CATEGORY_WEIGHTS]
        self._category_weights = list(CATEGORY_WEIGHTS.values())
        self._visibilities = list(VISIBILITY_WEIGHTS)
        self._visibility_weights = list(VISIBILITY_WEIGHTS.values())
        self._professionals = [
            f"{8_10000_00000 + self._rng.randrange(10**9)}" for _ in range(PROFESSIONALS)
        ]

    def dossier_id(self, index: int) -> uuid.UUID:
        return uuid.UUID(bytes=bytes(self.ids[16 * index : 16 * index + 16]))

    def _time(self, document: int) -> int:
        """Strictly increasing upload times, 15 years ago to now."""
        return self._start_us + document * HISTORY_US // self.shape.documents

    def _cohort_end(self, dossier: int) -> int:
        """Documents in the dossiers before `dossier` (cohorts hold exact shares)."""
        return self.shape.documents * dossier // self.shape.dossiers

    def batches(self) -> Iterator[Batch]:
        shape = self.shape
        cuts = sorted({*shape.checkpoints, shape.documents})
        mean = shape.documents / shape.dossiers
        for start in range(0, shape.dossiers, shape.cohort):
            members = range(start, min(shape.dossiers, start + shape.cohort))
            batch = Batch()
            self._dossiers(members, batch)
            total = self._cohort_end(members.stop) - self._cohort_end(start)
            targets = document_counts(len(members), total, mean, self._rng)
            owners = [d for i, d in enumerate(members) for _ in range(targets[i])]
            self._rng.shuffle(owners)
            position = 0
            while position < len(owners):
                cut = next(c for c in cuts if c > self.documents)
                take = min(shape.batch - batch.documents, cut - self.documents)
                take = min(take, len(owners) - position)
                self._documents(owners[position : position + take], batch)
                position += take
                if batch.documents >= shape.batch or self.documents in cuts:
                    yield batch
                    batch = Batch()
            if batch.documents or batch.rows["dossiers"]:
                yield batch

    def _dossiers(self, members: range, batch: Batch) -> None:
        rng, ident = self._rng, self._ident
        created = self._time(self.documents)
        dossiers, keys = batch.rows["dossiers"], batch.rows["dossier_keys"]
        self._keys = {}
        for d in members:
            created_us = created - rng.randrange(DAY_US)
            dossier_id = self._uuid7(created_us // 1000)
            self.ids[16 * d : 16 * d + 16] = dossier_id.to_bytes(16, "big")
            key = self._keys[d] = ident(dossier_id)
            dossiers.append(
                (key, rng.randbytes(32), "active", created_us, 1, False, None, None, None, 0)
            )
            keys.append((key, 1, 1, rng.randbytes(61)))
        self.dossiers += len(members)

    def _uuid7(self, ms: int) -> int:
        """An id as `new_id` (vault/domain/ids.py) lays it out, from the seeded generator
        (and five times faster): 48 bits of milliseconds, version 7, 74 random bits."""
        bits = self._rng.getrandbits(74)
        return ms << 80 | 0x7 << 76 | (bits >> 62) << 64 | 0b10 << 62 | bits & (1 << 62) - 1

    def _documents(self, owners: Sequence[int], batch: Batch) -> None:
        rng, ident, keys, filled = self._rng, self._ident, self._keys, self.filled
        count = len(owners)
        categories = rng.choices(self._categories, self._category_weights, k=count)
        visibilities = rng.choices(self._visibilities, self._visibility_weights, k=count)
        documents = batch.rows["documents"]
        versions = batch.rows["document_versions"]
        shown = batch.rows["document_visibility"]
        random_, professionals = rng.random, self._professionals
        for owner, category, visibility in zip(owners, categories, visibilities, strict=True):
            created_us = self._time(self.documents)
            self.documents += 1
            filled[owner] += 1
            document_id = ident(self._uuid7(created_us // 1000))
            if random_() < PATIENT_AUTHORS:
                author = "ins-hmac:" + rng.randbytes(32).hex()
            else:
                author = professionals[int(random_() * PROFESSIONALS)]
            latest = 2 if random_() < SECOND_VERSION else 1
            documents.append(
                (document_id, keys[owner], category, created_us, latest, visibility, 1, author)
            )
            shown.append((document_id, 1, visibility, created_us, author))
            versions.append(self._version(document_id, 1, created_us, category))
            if latest == 2:
                replaced_us = min(self._now_us, created_us + int(random_() * YEAR_US))
                versions.append(self._version(document_id, 2, replaced_us, category))

    def _version(self, document_id: object, version: int, created_us: int, category: str) -> Row:
        random_ = self._rng.random
        size = int(MIN_SIZE * math.exp(random_() * LOG_SIZE_RANGE))
        code = None if random_() < NO_TYPE_CODE else TYPE_CODES.get(category)
        care_us = created_us - int(random_() * (created_us - self._start_us))
        keys = self._rng.randbytes(61 + 250)  # the wrapped key, then the sealed metadata
        return (
            document_id,
            version,
            "committed",
            created_us,
            f"{self._rng.getrandbits(128):032x}",  # as new_object_key makes them
            1,
            keys[:61],
            keys[61 : 61 + 150 + int(random_() * 101)],
            size,
            ciphertext_size(size),
            code,
            care_us,
        )


def ciphertext_size(size: int) -> int:
    """The object's size for `size` bytes of plaintext: segments' nonces and tags, header."""
    return size + 29 * (1 + size // (64 * 1024)) + 16


# -- loading, per backend ---------------------------------------------------------------


class Backend(ABC):
    """Loads batches, does what follows a stage, tells its size; one per backend."""

    name = ""

    def __init__(self, engine: Engine, foreign_keys: bool) -> None:
        self.engine = engine
        self.foreign_keys = foreign_keys  # checked during the bulk load

    def ident(self, value: int) -> object:
        """A UUID (as an int) as the backend stores it."""
        return uuid.UUID(int=value)

    @abstractmethod
    def loading(self) -> AbstractContextManager[Callable[[Batch], None]]:
        """A loader of batches, one transaction each."""

    def after_stage(self) -> None:
        """What follows a load stage before the reads (PostgreSQL: VACUUM ANALYZE)."""
        return

    @abstractmethod
    def size_bytes(self) -> int: ...

    def table_bytes(self) -> dict[str, int]:
        return {}

    @abstractmethod
    def explain(self, statement: str, parameters: Any) -> list[str]: ...

    def files(self) -> list[Path]:
        """The database's files, if this process can see them."""
        return []

    def resident_fraction(self) -> float | None:
        """How much of the database's files the page cache holds (util-linux `fincore`),
        or None if that cannot be told."""
        files = [path for path in self.files() if path.exists()]
        tool = shutil.which("fincore")
        if not files or tool is None:
            return None
        command = [tool, "--bytes", "--noheadings", "--raw", "--output", "RES,SIZE"]
        try:
            out = subprocess.run(
                [*command, *map(str, files)], capture_output=True, text=True, check=True
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
        resident = size = 0
        for line in out.splitlines():
            r, n = line.split()
            resident, size = resident + int(r), size + int(n)
        return resident / size if size else None


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, engine: Engine, foreign_keys: bool, path: Path) -> None:
        super().__init__(engine, foreign_keys)
        self.path = path

    def ident(self, value: int) -> object:
        return f"{value:032x}"  # as SQLAlchemy's Uuid stores it in SQLite: CHAR(32)

    @contextmanager
    def loading(self) -> Iterator[Callable[[Batch], None]]:
        raw = self.engine.raw_connection()
        conn = cast(sqlite3.Connection, raw.driver_connection)
        cache = conn.execute("PRAGMA cache_size").fetchone()[0]
        conn.execute("PRAGMA synchronous=OFF")  # for the bulk load only
        conn.execute(f"PRAGMA cache_size=-{LOAD_CACHE_KIB}")
        if not self.foreign_keys:
            conn.execute("PRAGMA foreign_keys=OFF")
        statements = {
            table: f"INSERT INTO {table} ({', '.join(c for c, _ in columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
            for table, columns in TABLES.items()
        }

        def load(batch: Batch) -> None:
            conn.execute("BEGIN")
            try:
                for table, rows in batch.rows.items():
                    if rows:
                        conn.executemany(statements[table], rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

        try:
            yield load
        finally:
            conn.execute("PRAGMA synchronous=FULL")  # the vault's (vault/sqlstore.py)
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA cache_size={cache}")
            raw.close()

    def files(self) -> list[Path]:
        return [self.path, self.path.with_name(self.path.name + "-wal")]

    def size_bytes(self) -> int:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        wal = self.path.with_name(self.path.name + "-wal")
        return self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

    def explain(self, statement: str, parameters: Any) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        depth: dict[int, int] = {0: 0}
        lines = []
        for node, parent, _unused, detail in rows:
            depth[node] = depth.get(parent, 0) + 1
            lines.append("  " * (depth[node] - 1) + str(detail))
        return lines


class PostgresBackend(Backend):
    name = "postgresql"

    @contextmanager
    def loading(self) -> Iterator[Callable[[Batch], None]]:
        raw = self.engine.raw_connection()
        conn = cast(psycopg.Connection[Any], raw.driver_connection)
        statements = {
            table: f"COPY {table} ({', '.join(c for c, _ in columns)}) FROM STDIN (FORMAT BINARY)"
            for table, columns in TABLES.items()
        }
        types = {table: [t for _, t in columns] for table, columns in TABLES.items()}
        if not self.foreign_keys:  # no RI triggers (superuser; pg_restore's way)
            conn.execute("SET session_replication_role = replica")
            conn.commit()

        def load(batch: Batch) -> None:
            try:
                with conn.cursor() as cursor:
                    for table, rows in batch.rows.items():
                        if not rows:
                            continue
                        with cursor.copy(statements[table]) as copy:
                            copy.set_types(types[table])
                            for row in rows:
                                copy.write_row(row)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

        try:
            yield load
        finally:
            conn.rollback()
            conn.execute("RESET session_replication_role")
            conn.commit()
            raw.close()

    def _tables(self) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY c.relname"
            ).all()
        return [str(r[0]) for r in rows]

    def after_stage(self) -> None:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in self._tables():
                conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")

    def table_bytes(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            ).all()
        return {str(name): int(size) for name, size in rows}

    def size_bytes(self) -> int:
        return sum(self.table_bytes().values())

    def files(self) -> list[Path]:
        """Tables' and indexes' main forks, every 1 GiB segment (a local server only)."""
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT current_setting('data_directory'), pg_relation_filepath(c.oid)"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i')"
            ).all()
        paths: list[Path] = []
        for directory, relative in rows:
            first = Path(directory) / relative
            try:
                paths += [first, *sorted(first.parent.glob(first.name + ".*"))]
            except OSError:
                return []
        return paths

    def explain(self, statement: str, parameters: Any) -> list[str]:
        """The plan for these parameters, then the generic plan: psycopg prepares a
        statement from its sixth execution on a connection, and PostgreSQL may then
        keep to the generic plan."""
        prefix = "EXPLAIN (ANALYZE, BUFFERS) "
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match[1] not in names:
                names.append(match[1])
            return f"${names.index(match[1]) + 1}"

        prepared = re.sub(r"%\((\w+)\)s", number, statement)
        with self.engine.connect() as conn:
            custom = conn.exec_driver_sql(prefix + statement, parameters).all()
            driver = conn.connection.driver_connection
            values = ", ".join(psycopg.sql.Literal(parameters[n]).as_string(driver) for n in names)
            conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
            conn.exec_driver_sql(f"PREPARE bench_generic AS {prepared}")
            generic = conn.exec_driver_sql(f"{prefix}EXECUTE bench_generic({values})").all()
            conn.exec_driver_sql("DEALLOCATE bench_generic")
        return [
            *(str(row[0]) for row in custom),
            "-- generic plan (plan_cache_mode = force_generic_plan):",
            *(str(row[0]) for row in generic),
        ]


# -- measuring --------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    """Milliseconds over `calls` calls."""

    calls: int
    p50: float
    p99: float
    max: float
    mean_rows: float

    @staticmethod
    def of(samples: Sequence[float], rows: Sequence[int]) -> Latency:
        ms = [s * 1000 for s in samples]
        return Latency(
            len(ms), percentile(ms, 50), percentile(ms, 99), max(ms), sum(rows) / len(rows)
        )


CALLS: dict[str, Callable[[SqlIndex, uuid.UUID], Any]] = {
    "list": lambda index, d: _first_page(index, d),
    "count": lambda index, d: index.category_counts(d, EVERYTHING),
    "list_professional": lambda index, d: _first_page(index, d, PROFESSIONAL_SCOPE),
    "count_professional": lambda index, d: index.category_counts(d, PROFESSIONAL_SCOPE),
}


FIRST = ("list", "count")  # the calls timed on a dossier's first read, and alone


def returned(name: str, result: Any) -> int:
    return len(result) if name.startswith("list") else sum(result.values())


def timed(
    index: SqlIndex, dossiers: Sequence[uuid.UUID], names: Sequence[str], rotate: bool = False
) -> dict[str, tuple[list[float], list[int]]]:
    """Seconds and rows returned of the calls `names` on each dossier in turn; with
    `rotate`, one call per dossier, in turn (the first dossier gets the first name...)."""
    out: dict[str, tuple[list[float], list[int]]] = {name: ([], []) for name in names}
    clock = time.perf_counter
    for i, dossier_id in enumerate(dossiers):
        for name in [names[i % len(names)]] if rotate else names:
            started = clock()
            result = CALLS[name](index, dossier_id)
            elapsed = clock() - started
            out[name][0].append(elapsed)
            out[name][1].append(returned(name, result))
    return out


@dataclass(frozen=True)
class Reads:
    """Latencies on one sample of dossiers none of which was read since the load."""

    dossiers: int
    first: dict[str, Latency]  # FIRST: each call on its share of the dossiers, first read
    warm: dict[str, Latency]  # every call of CALLS, right after, on all the dossiers
    statements: dict[str, Latency]  # FIRST: the statement alone, warm


def reads(backend: Backend, index: SqlIndex, dossiers: Sequence[uuid.UUID]) -> Reads:
    first = timed(index, dossiers, FIRST, rotate=True)
    warm = timed(index, dossiers, list(CALLS))
    return Reads(
        dossiers=len(dossiers),
        first={name: Latency.of(*first[name]) for name in FIRST if first[name][0]},
        warm={name: Latency.of(*warm[name]) for name in CALLS},
        statements={name: bare(backend, index, name, dossiers) for name in FIRST},
    )


@dataclass(frozen=True)
class Checkpoint:
    documents: int
    dossiers: int
    load_seconds: float  # this stage's
    maintenance_seconds: float  # this stage's VACUUM ANALYZE (PostgreSQL)
    bytes: int
    table_bytes: dict[str, int]
    measured: Measured
    measure_seconds: float

    @property
    def bytes_per_document(self) -> float:
        return self.bytes / self.documents


@dataclass(frozen=True)
class Writes:
    """The adapter's write path: `reserve_version` then `commit_version` per document."""

    documents: int
    seconds: float
    reserve: Latency
    commit: Latency

    @property
    def per_second(self) -> float:
        return self.documents / self.seconds


@dataclass
class Result:
    backend: str
    documents: int = 0
    dossiers: int = 0
    load_seconds: float = 0.0
    maintenance_seconds: float = 0.0
    checkpoints: list[Checkpoint] = field(default_factory=list)
    writes: Writes | None = None
    plans: dict[str, list[str]] = field(default_factory=dict)
    largest_dossier: int = 0
    vmhwm_kib: int = 0
    location: str = ""

    @property
    def fill_seconds(self) -> float:
        return self.load_seconds + self.maintenance_seconds

    @property
    def documents_per_second(self) -> float:
        return self.documents / self.load_seconds if self.load_seconds else 0.0


@dataclass(frozen=True)
class Measured:
    """One checkpoint's reads: a random sample of dossiers, and one of the top 1%."""

    sample: Reads
    top: Reads
    top_dossiers: int  # how many make the top 1%
    top_min_documents: int  # the fewest documents one of them holds
    resident: float | None  # share of the database in the page cache before the reads


def measure(
    backend: Backend,
    index: SqlIndex,
    generator: Generator,
    samples: int,
    rng: random.Random,
    touched: set[int],
) -> Measured:
    """After a warm-up on other dossiers, reads on `samples` random dossiers, then on
    samples/4 of the top 1% by documents; none read before (`touched`, updated)."""
    filled = [d for d in range(generator.dossiers) if generator.filled[d] > 0]
    top = sorted(filled, key=generator.filled.__getitem__, reverse=True)
    top = top[: max(1, len(filled) // 100)]
    ids = generator.dossier_id

    def draw(among: Sequence[int], count: int) -> list[int]:
        fresh = [d for d in among if d not in touched] or list(among)
        drawn = rng.sample(fresh, min(count, len(fresh)))
        touched.update(drawn)
        return drawn

    warm_up = draw(filled, max(1, samples // 4))
    timed(index, [ids(d) for d in warm_up], list(CALLS))
    picked = draw(filled, samples)
    top_picked = draw(top, max(1, samples // 4))
    resident = backend.resident_fraction()
    gc.collect()
    return Measured(
        sample=reads(backend, index, [ids(d) for d in picked]),
        top=reads(backend, index, [ids(d) for d in top_picked]),
        top_dossiers=len(top),
        top_min_documents=generator.filled[top[-1]],
        resident=resident,
    )


def bare(backend: Backend, index: SqlIndex, name: str, dossiers: Sequence[uuid.UUID]) -> Latency:
    """The statement call `name` sends, alone: executed and fetched on a driver
    connection with each dossier's id in place of the first one's (what the database and
    the driver take, without the adapter's query building and row mapping)."""
    probe = dossiers[0]
    sent = captured_selects(backend.engine, functools.partial(CALLS[name], index, probe))
    if len(sent) != 1:
        raise RuntimeError(f"{name} sent {len(sent)} statements")
    statement, parameters = sent[0]
    old = backend.ident(probe.int)
    seconds: list[float] = []
    rows: list[int] = []
    clock = time.perf_counter
    raw = backend.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for dossier_id in dossiers:
            new = backend.ident(dossier_id.int)
            if isinstance(parameters, dict):
                values: Any = {k: new if v == old else v for k, v in parameters.items()}
            else:
                values = [new if v == old else v for v in parameters]
            started = clock()
            cursor.execute(statement, values)
            fetched = cursor.fetchall()
            seconds.append(clock() - started)
            rows.append(len(fetched))
        cursor.close()
    finally:
        raw.close()
    return Latency.of(seconds, rows)


def adapter_writes(index: SqlIndex, generator: Generator, count: int, seed: int) -> Writes:
    """`count` documents through the adapter's write path, one after the other."""
    rng = random.Random(seed)
    reserve: list[float] = []
    commit: list[float] = []
    clock = time.perf_counter
    started = clock()
    for _ in range(count):
        now_us = time.time_ns() // 1000
        record = VersionRecord(
            dossier_id=generator.dossier_id(rng.randrange(generator.dossiers)),
            document_id=new_id(now_us // 1000),
            version=1,
            category=rng.choices(list(CATEGORY_WEIGHTS), list(CATEGORY_WEIGHTS.values()))[0],
            created_us=now_us,
            blob_key=new_object_key(),
            dossier_key_version=1,
            wrapped_key=rng.randbytes(61),
            sealed_metadata=b"",
            author=f"{8_10000_00000 + rng.randrange(10**9)}",
        )
        size = int(MIN_SIZE * math.exp(rng.random() * LOG_SIZE_RANGE))
        committed = replace(
            record,
            size=size,
            ciphertext_size=ciphertext_size(size),
            sealed_metadata=rng.randbytes(150 + rng.randrange(101)),
        )
        t0 = clock()
        index.reserve_version(record, now_us + LEASE_US)
        t1 = clock()
        index.commit_version(committed)
        t2 = clock()
        reserve.append(t1 - t0)
        commit.append(t2 - t1)
    seconds = clock() - started
    ones = [1] * count
    return Writes(count, seconds, Latency.of(reserve, ones), Latency.of(commit, ones))


def plans(backend: Backend, index: SqlIndex, dossier_id: uuid.UUID) -> dict[str, list[str]]:
    """The plan of every statement each call sends, with its very parameters."""
    out: dict[str, list[str]] = {}
    for name, call in CALLS.items():
        lines: list[str] = []
        sent = captured_selects(backend.engine, functools.partial(call, index, dossier_id))
        for statement, parameters in sent:
            lines += [statement.strip(), "--", *backend.explain(statement, parameters)]
        out[name] = lines
    return out


def run_backend(backend: Backend, shape: Shape, args: argparse.Namespace) -> Result:
    index = SqlIndex(backend.engine)
    index.create_schema()
    generator = Generator(shape, time.time_ns() // 1000, backend.ident)
    result = Result(backend.name)
    rng = random.Random(shape.seed + 1)
    touched: set[int] = set()  # dossiers read already
    stream = generator.batches()
    for checkpoint in shape.checkpoints:
        log(f"{backend.name}: filling to {checkpoint:,} documents")
        started = mark = time.perf_counter()
        with backend.loading() as load:
            reported = generator.documents
            while generator.documents < checkpoint:
                load(next(stream))
                if generator.documents - reported >= PROGRESS:
                    rate = (generator.documents - reported) / (time.perf_counter() - mark)
                    log(f"{backend.name}: {generator.documents:,} documents, {rate:,.0f}/s")
                    reported, mark = generator.documents, time.perf_counter()
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        backend.after_stage()
        maintained = time.perf_counter() - started
        result.load_seconds += loaded
        result.maintenance_seconds += maintained
        log(
            f"{backend.name}: {generator.documents:,} documents in {loaded:.1f} s "
            f"(+{maintained:.1f} s maintenance); measuring"
        )
        backend.engine.dispose()  # fresh connections, with the vault's own settings
        started = time.perf_counter()
        measured = measure(backend, index, generator, args.samples, rng, touched)
        measure_seconds = time.perf_counter() - started
        result.checkpoints.append(
            Checkpoint(
                documents=generator.documents,
                dossiers=generator.dossiers,
                load_seconds=loaded,
                maintenance_seconds=maintained,
                bytes=backend.size_bytes(),
                table_bytes=backend.table_bytes(),
                measured=measured,
                measure_seconds=measure_seconds,
            )
        )
        log(f"{backend.name}: {summary_line(result.checkpoints[-1])}")
    result.documents, result.dossiers = generator.documents, generator.dossiers
    largest = max(range(generator.dossiers), key=generator.filled.__getitem__)
    result.largest_dossier = generator.filled[largest]
    result.plans = plans(backend, index, generator.dossier_id(largest))
    log(f"{backend.name}: {args.writes} writes through the adapter")
    result.writes = adapter_writes(index, generator, args.writes, shape.seed + 2)
    result.vmhwm_kib = peak_rss_kib(os.getpid())
    return result


def bench(backends: Sequence[str], shape: Shape, args: argparse.Namespace) -> list[Result]:
    results = []
    for name in backends:
        if name == "sqlite":
            directory = Path(args.sqlite_dir)
            path = directory / f"vault-bench-index-{os.getpid()}.sqlite3"
            engine = make_engine(f"sqlite:///{path}")
            try:
                backend = SqliteBackend(engine, args.check_foreign_keys, path)
                result = run_backend(backend, shape, args)
                result.location = str(path)
                results.append(result)
            finally:
                engine.dispose()
                if not args.keep:
                    for suffix in ("", "-wal", "-shm"):
                        path.with_name(path.name + suffix).unlink(missing_ok=True)
            continue
        url, drop = postgres_schema()
        engine = make_engine(url)
        try:
            result = run_backend(PostgresBackend(engine, args.check_foreign_keys), shape, args)
            result.location = url
            results.append(result)
        finally:
            engine.dispose()
            if not args.keep:
                drop()
    return results


# -- output -----------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def summary_line(c: Checkpoint) -> str:
    m = c.measured
    cached = "" if m.resident is None else f", {100 * m.resident:.0f}% cached"
    return (
        f"{c.documents:,} docs: {c.bytes_per_document:.0f} B/doc{cached}; first page p99: "
        f"first read {m.sample.first['list'].p99:.2f}, warm {m.sample.warm['list'].p99:.2f}, "
        f"top 1% warm {m.top.warm['list'].p99:.2f}, statement alone "
        f"{m.sample.statements['list'].p99:.2f} ms; count p99 warm "
        f"{m.sample.warm['count'].p99:.2f} ms"
    )


def duration(value: float) -> str:
    return f"{value:.0f} s ({value / 60:.1f} min)" if value >= 60 else f"{value:.1f} s"


def triple(latency: Latency | None) -> str:
    if latency is None:
        return "-"
    return f"{latency.p50:.2f} / {latency.p99:.2f} / {latency.max:.2f}"


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


LABELS = {
    "list": "first page, patient (EVERYTHING)",
    "count": "count per category, patient",
    "list_professional": "first page, nurse (masked hidden)",
    "count_professional": "count per category, nurse",
}


def growth(result: Result, kind: str, name: str) -> float:
    """p99 of the random sample's `kind` latencies of `name` at the last checkpoint over
    that at the first."""
    first, last = result.checkpoints[0].measured, result.checkpoints[-1].measured
    p99s = [cast(dict[str, Latency], getattr(m.sample, kind))[name].p99 for m in (first, last)]
    return p99s[1] / p99s[0]


def summary_table(results: Sequence[Result]) -> list[str]:
    lines = [
        "| index | documents | dossiers | fill (load + maintenance) | load docs/s "
        "| bytes/doc at the end | adapter writes docs/s | reserve p50 / p99 ms "
        "| commit p50 / p99 ms | fill < 30 min |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for r in results:
        w = r.writes
        reserve = f"{w.reserve.p50:.2f} / {w.reserve.p99:.2f}" if w else "-"
        commit = f"{w.commit.p50:.2f} / {w.commit.p99:.2f}" if w else "-"
        lines.append(
            f"| {r.backend} | {r.documents:,} | {r.dossiers:,} "
            f"| {duration(r.fill_seconds)} ({r.load_seconds:.0f} + {r.maintenance_seconds:.0f})"
            f" | {r.documents_per_second:,.0f} | {r.checkpoints[-1].bytes_per_document:,.0f} "
            f"| {f'{w.per_second:.0f}' if w else '-'} | {reserve} | {commit} "
            f"| {met(r.fill_seconds < FILL_GOAL_SECONDS)} |"
        )
    return lines


def checkpoint_table(r: Result) -> list[str]:
    lines = [
        "| documents | dossiers | stage load (docs/s) | bytes/doc | cached | call "
        "| first read p50 / p99 / max | warm p50 / p99 / max | rows "
        "| top 1%: first read p99, warm p50 / p99 | top rows "
        "| statement alone p50 / p99, top 1% p99 |",
        "|---:|---:|---:|---:|---:|---|---|---|---:|---|---:|---|",
    ]
    previous = 0
    for c in r.checkpoints:
        m = c.measured
        rate = (c.documents - previous) / c.load_seconds
        previous = c.documents
        cached = "-" if m.resident is None else f"{100 * m.resident:.0f}%"
        for i, name in enumerate(CALLS):
            head = (
                f"| {c.documents:,} | {c.dossiers:,} | {c.load_seconds:.0f} s ({rate:,.0f}) "
                f"| {c.bytes_per_document:,.0f} | {cached}"
                if i == 0
                else "| | | | |"
            )
            warm, top = m.sample.warm[name], m.top.warm[name]
            first, top_first = m.sample.first.get(name), m.top.first.get(name)
            alone = "-"
            if name in m.sample.statements:
                st, tst = m.sample.statements[name], m.top.statements[name]
                alone = f"{st.p50:.2f} / {st.p99:.2f}, {tst.p99:.2f}"
            lines.append(
                f"{head} | {LABELS[name]} | {triple(first)} | {triple(warm)} "
                f"| {warm.mean_rows:.1f} "
                f"| {f'{top_first.p99:.2f}' if top_first else '-'}, "
                f"{top.p50:.2f} / {top.p99:.2f} | {top.mean_rows:.0f} | {alone} |"
            )
    return lines


def goals(r: Result) -> list[str]:
    last = r.checkpoints[-1]
    m = last.measured
    goal = LATENCY_GOAL_SECONDS * 1000
    first, warm = m.sample.first["list"].p99, m.sample.warm["list"].p99
    nurse = m.sample.warm["list_professional"].p99
    lines = [
        f"* {r.backend}: fill {duration(r.fill_seconds)}: "
        f"{met(r.fill_seconds < FILL_GOAL_SECONDS)} (goal 30 min).",
        f"* {r.backend}: first page p99 at {last.documents:,} documents: first read "
        f"{first:.2f} ms ({met(first < goal)}), warm {warm:.2f} ms ({met(warm < goal)}), "
        f"nurse warm {nurse:.2f} ms ({met(nurse < goal)}); top 1%: first read "
        f"{m.top.first['list'].p99:.2f} ms, warm {m.top.warm['list'].p99:.2f} ms; "
        f"the statement alone {m.sample.statements['list'].p99:.2f} ms (goal 5 ms).",
    ]
    ratios = [(f"{n} first read", growth(r, "first", n)) for n in FIRST]
    ratios += [(f"{n} warm", growth(r, "warm", n)) for n in CALLS]
    ratios += [(f"{n} statement alone", growth(r, "statements", n)) for n in FIRST]
    lines.append(
        f"* {r.backend}: p99 at {last.documents:,} over p99 at "
        f"{r.checkpoints[0].documents:,} (goal: within {FLAT_GOAL:.0f}x): "
        + "; ".join(
            f"{label} {x:.2f}x ({'flat' if x <= FLAT_GOAL else 'NOT flat'})" for label, x in ratios
        )
        + "."
    )
    return lines


def markdown(results: Sequence[Result]) -> list[str]:
    lines = summary_table(results)
    lines += [
        "",
        "Latencies in ms. First read: each sampled dossier's first read since the load (the "
        "patient's list for half of them, the count for the other half), with whatever the "
        "caches hold; warm: every call again, right after, on the same dossiers. Top 1%: "
        "dossiers drawn among the 1% holding the most documents. Statement alone: the SQL "
        "the adapter sends, run on the driver (warm). Cached: share of the database's files "
        "in the page cache before the reads.",
    ]
    for r in results:
        lines += ["", f"{r.backend}:", "", *checkpoint_table(r)]
    lines += ["", "Goals:", ""]
    for r in results:
        lines += goals(r)
    for r in results:
        lines += [
            "",
            f"{r.backend}: plans at {r.documents:,} documents, for the largest dossier "
            f"({r.largest_dossier:,} documents):",
        ]
        for name, plan in r.plans.items():
            lines += ["", f"{LABELS[name]}:", "```", *plan, "```"]
        sizes = r.checkpoints[-1].table_bytes
        if sizes:
            lines += ["", f"{r.backend}: bytes per table (indexes and TOAST included):", ""]
            lines += [
                f"* {table}: {size / 2**20:,.0f} MiB "
                f"({size / r.checkpoints[-1].documents:,.0f} B/doc)"
                for table, size in sorted(sizes.items(), key=lambda kv: -kv[1])
                if size >= 2**20
            ]
    peak = max((r.vmhwm_kib for r in results), default=peak_rss_kib(os.getpid()))
    lines.append(f"\nThis process's VmHWM: {mib(peak)}.")
    return lines


# -- the command ------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--documents", type=int, help=f"default {DEFAULT_DOCUMENTS:,}")
    parser.add_argument("--dossiers", type=int, help=f"default {DEFAULT_DOSSIERS:,}")
    parser.add_argument(
        "--checkpoints",
        help="document counts to measure at, comma-separated (default "
        + ",".join(str(c) for c in DEFAULT_CHECKPOINTS)
        + ")",
    )
    parser.add_argument("--samples", type=int, help="random dossiers per measurement")
    parser.add_argument("--writes", type=int, help="documents written through the adapter")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--cohort", type=int, help="dossiers per cohort (default: see above)")
    parser.add_argument("--batch", type=int, default=BATCH_DOCUMENTS, help="documents per load")
    parser.add_argument(
        "--check-foreign-keys",
        action="store_true",
        help="keep foreign key checks on during the bulk load (off by default: see above)",
    )
    parser.add_argument("--sqlite-dir", default="/tmp", help="where the SQLite file goes")
    parser.add_argument("--keep", action="store_true", help="do not drop the data")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    quick = args.quick
    if args.documents is None:
        args.documents = QUICK_DOCUMENTS if quick else DEFAULT_DOCUMENTS
    if args.dossiers is None:
        args.dossiers = QUICK_DOSSIERS if quick else DEFAULT_DOSSIERS
    if args.checkpoints is None:
        defaults = QUICK_CHECKPOINTS if quick else DEFAULT_CHECKPOINTS
        args.checkpoints = ",".join(str(c) for c in defaults if c <= args.documents)
    checkpoints = sorted({int(c) for c in args.checkpoints.split(",") if c}) or [args.documents]
    if checkpoints[-1] > args.documents or checkpoints[0] < 1:
        parser.error("checkpoints must lie between 1 and --documents")
    if checkpoints[-1] != args.documents:
        checkpoints.append(args.documents)
    args.checkpoints = tuple(checkpoints)
    if args.samples is None:
        args.samples = QUICK_SAMPLES if quick else DEFAULT_SAMPLES
    if args.writes is None:
        args.writes = QUICK_WRITES if quick else DEFAULT_WRITES
    if args.cohort is None:
        args.cohort = max(1, round(args.dossiers * checkpoints[0] / args.documents))
    if min(args.dossiers, args.samples, args.writes, args.cohort, args.batch) < 1:
        parser.error("sizes and counts must be at least 1")
    if args.documents < args.dossiers:
        parser.error("every dossier holds at least one document: --documents >= --dossiers")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    shape = Shape(
        documents=args.documents,
        dossiers=args.dossiers,
        checkpoints=args.checkpoints,
        cohort=args.cohort,
        batch=args.batch,
        seed=args.seed,
    )
    results = bench(args.backends.split(","), shape, args)
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
        return 0
    print("\n".join(markdown(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
