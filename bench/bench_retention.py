"""Retention benchmark (issue #8): `plan` at scale, and the `run` rate on S3.

    python -m bench.bench_retention [--dossiers 1000000] [--repeat 20] [--run-dossiers 200]
                                    [--backends sqlite,postgresql] [--only plan|run]
                                    [--quick] [--json]

Part 1, `plan` at scale. For each index backend (SQLite: a file in a temp directory;
PostgreSQL: `VAULT_BENCH_POSTGRES_URL`, default the local server, in a private schema
created and dropped here), creates the schema with `SqlIndex.create_schema`, then
bulk-inserts N dossier rows with SQLAlchemy Core: 1% closed with a deadline in the past
(half closed by the patient ten years ago, half deletion requests of the last months),
20% closed with a deadline in the future, the rest active. Each due dossier gets 1 to 5
documents, one committed version each, of 10 KiB to 10 MiB (log-uniform), so that
`due_summary` has bytes to add up (`--other-documents K` gives every other dossier K
documents as well, to see whether plans hold with a large documents table). PostgreSQL is
then ANALYZEd, as autovacuum would do after such a load; SQLite is not (the vault never
runs ANALYZE). It reports the fill time, then the first call, median and p99 (of
`--repeat` calls) of `due_summary(now)` and `due_dossiers(now, 100)`, and of the whole
`plan` command minus argument parsing (`vault.composition.open_retention` on a fresh engine,
then `due_summary`), and prints the query plans (PostgreSQL `EXPLAIN`, SQLite
`EXPLAIN QUERY PLAN`) of the exact statements the index sends, captured from the engine,
to show whether the partial index `ix_dossiers_due` is used. Goal: `plan` under 2 s.

Part 2, `run` on S3. Starts moto's `ThreadedMotoServer` in this process, builds the
service in-process on a versioned bucket and a SQLite index (`vault.composition.build`),
creates M dossiers through the use cases as their patients (2 documents of 4 KiB each),
half closed then made due by moving their deadline into the past (as ten years passing
would), half by a deletion request, then times `Destroyer.run()` from
`vault.composition.open_retention`, and the part of it spent in the blob store's `delete`. The
reference: the same number of objects of the same size put with raw boto3 into a second
versioned bucket, then deleted as the vault's S3 store deletes (list the key's versions,
delete each version and delete marker), with a client made by the store's own
`make_client`. Run and raw deletes alternate in `--rounds` slices, so that the load of a
shared machine weighs on both alike. It reports dossiers/s, objects/s, raw objects/s,
their ratio (goal: the run limited by the store, i.e. near 1) and the vault's own time
per dossier (the run's, outside the store). Then (`--profile-dossiers`, 0 to skip) it
runs the destroyer once more under cProfile on further due dossiers and shows where its
time goes. moto answers in milliseconds, a real S3 in tens: the vault's own time per
dossier is the number that carries over.

A full run takes about 3 minutes on 2 cores; `--quick` is a smoke run (20,000 dossiers,
40 + 20 destroyed) of well under a minute. Not a test: run on demand, from the
repository root, with the dev dependencies.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import logging
import math
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from moto.server import ThreadedMotoServer
from sqlalchemy import Engine, Table, insert, text, update

from bench.bench_documents import mib, peak_rss_kib
from bench.bench_journal import postgres_schema
from bench.percentiles import percentile
from bench.statements import captured_selects
from retention.destroyer import BATCH, Destroyer, RunReport
from vault.blobstore.base import BlobStore, DeleteResult, shard_path
from vault.blobstore.s3.client import make_client
from vault.blobstore.s3.settings import S3Settings
from vault.composition import build, open_retention
from vault.config import Config
from vault.crypto.localkeys import create_key_file
from vault.domain.identifiers import ins_key
from vault.domain.ids import new_id, new_object_key
from vault.domain.model import (
    Actor,
    ActorKind,
    ClosureReason,
    DocumentCategory,
    DocumentMetadata,
    DossierState,
)
from vault.index.schema import DocumentRow, DocumentVersionRow, DossierRow
from vault.index.sql import SqlIndex
from vault.service import Call, Vault
from vault.sqlstore import make_engine, writing

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

KIB = 1024
MIB = 1024 * KIB
DAY_US = 86_400 * 1_000_000
YEAR_US = 365 * DAY_US + DAY_US // 4
DEFAULT_DOSSIERS, QUICK_DOSSIERS = 1_000_000, 20_000
DEFAULT_RUN_DOSSIERS, QUICK_RUN_DOSSIERS = 200, 40
DEFAULT_PROFILE_DOSSIERS, QUICK_PROFILE_DOSSIERS = 50, 20
FILL_BATCH = 10_000
PLAN_GOAL_SECONDS = 2.0
REGION = "us-east-1"
DUMMY_KEY = "testing"
METADATA = DocumentMetadata("bench", DocumentCategory.REPORTS, "application/pdf")
CATEGORIES = [c.value for c in DocumentCategory]
DOSSIERS = cast(Table, DossierRow.__table__)
DOCUMENTS = cast(Table, DocumentRow.__table__)
VERSIONS = cast(Table, DocumentVersionRow.__table__)


# -- part 1: filling an index -----------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """What to fill: how many dossiers, which fractions are due or closed, documents."""

    dossiers: int
    due_fraction: float
    future_fraction: float
    other_documents: int
    seed: int


@dataclass
class Filled:
    """What was inserted, and how long it took."""

    seconds: float = 0.0
    dossiers: int = 0
    due: int = 0
    due_bytes: int = 0
    closed_future: int = 0
    documents: int = 0
    versions: int = 0


@dataclass
class Batch:
    dossiers: list[dict[str, object]] = field(default_factory=list)
    documents: list[dict[str, object]] = field(default_factory=list)
    versions: list[dict[str, object]] = field(default_factory=list)


class RowMaker:
    """Random but reproducible rows, as the vault would have written them."""

    def __init__(self, shape: Shape, now_us: int) -> None:
        self._rng = random.Random(shape.seed)
        self._shape = shape
        self._now_us = now_us

    def _ago(self, low_years: float, high_years: float) -> int:
        return self._now_us - int(self._rng.uniform(low_years, high_years) * YEAR_US)

    def dossier(self, kind: str) -> dict[str, object]:
        """An active, closed-not-due or due dossier row (`kind`)."""
        created_us = self._ago(12, 20) if kind == "due" else self._ago(0, 20)
        row: dict[str, object] = {
            "id": new_id(created_us // 1000),
            "patient_index": self._rng.randbytes(32),
            "state": DossierState.ACTIVE.value,
            "created_us": created_us,
            "key_version": 1,
            "emergency_refused": False,
            "closed_us": None,
            "closure_reason": None,
            "destroy_after_us": None,
            "holds": 0,
        }
        if kind != "active":
            row.update(self._closure(kind))
        return row

    def _closure(self, kind: str) -> dict[str, object]:
        if kind == "due" and self._rng.random() < 0.5:  # asked in the last three months
            closed_us = self._ago(0, 0.25)
            return self._closed(closed_us, ClosureReason.DELETION_REQUEST, closed_us)
        closed_us = self._ago(10.01, 11) if kind == "due" else self._ago(0, 9.99)
        reason = ClosureReason.PATIENT_REQUEST
        if kind != "due":
            reasons = [r for r in ClosureReason if r is not ClosureReason.DELETION_REQUEST]
            reason = self._rng.choice(reasons)
        return self._closed(closed_us, reason, closed_us + 10 * YEAR_US)

    @staticmethod
    def _closed(closed_us: int, reason: ClosureReason, deadline_us: int) -> dict[str, object]:
        return {
            "state": DossierState.CLOSED.value,
            "closed_us": closed_us,
            "closure_reason": reason.value,
            "destroy_after_us": deadline_us,
        }

    def documents(self, dossier: dict[str, object], count: int, into: Batch) -> int:
        """`count` documents of the dossier, one committed version each, into `into`;
        returns their ciphertext bytes."""
        total = 0
        for _ in range(count):
            document_id = new_id(self._now_us // 1000)
            created_us = self._rng.randint(cast(int, dossier["created_us"]), self._now_us)
            ciphertext = int(math.exp(self._rng.uniform(math.log(10 * KIB), math.log(10 * MIB))))
            total += ciphertext
            into.documents.append(self._document(document_id, dossier["id"], created_us))
            into.versions.append(self._version(document_id, created_us, ciphertext))
        return total

    def _document(self, document_id: uuid.UUID, dossier_id: object, at: int) -> dict[str, object]:
        return {
            "id": document_id,
            "dossier_id": dossier_id,
            "category": self._rng.choice(CATEGORIES),
            "created_us": at,
            "latest_version": 1,
            "visibility": 0,
            "metadata_version": 1,
            "author": "professional:10003500005",
        }

    def _version(self, document_id: uuid.UUID, at: int, ciphertext: int) -> dict[str, object]:
        return {
            "document_id": document_id,
            "version": 1,
            "status": "committed",
            "created_us": at,
            "blob_key": self._rng.randbytes(16).hex(),
            "dossier_key_version": 1,
            "wrapped_key": self._rng.randbytes(60),
            "sealed_metadata": self._rng.randbytes(220),
            "size": ciphertext - 64,
            "ciphertext_size": ciphertext,
        }

    def kind(self) -> str:
        draw = self._rng.random()
        if draw < self._shape.due_fraction:
            return "due"
        if draw < self._shape.due_fraction + self._shape.future_fraction:
            return "closed"
        return "active"

    def due_documents(self) -> int:
        return self._rng.randint(1, 5)


def make_batch(maker: RowMaker, size: int, shape: Shape, filled: Filled) -> Batch:
    """`size` dossiers with their documents; counts them into `filled`."""
    batch = Batch()
    for _ in range(size):
        kind = maker.kind()
        row = maker.dossier(kind)
        batch.dossiers.append(row)
        documents = maker.due_documents() if kind == "due" else shape.other_documents
        stored = maker.documents(row, documents, batch)
        filled.dossiers += 1
        filled.documents += documents
        filled.versions += documents
        if kind == "due":
            filled.due += 1
            filled.due_bytes += stored
        filled.closed_future += kind == "closed"
    return batch


def fill(engine: Engine, shape: Shape, now_us: int) -> Filled:
    """Inserts `shape.dossiers` dossiers in transactions of FILL_BATCH (executemany)."""
    maker = RowMaker(shape, now_us)
    filled = Filled()
    started = time.perf_counter()
    for start in range(0, shape.dossiers, FILL_BATCH):
        batch = make_batch(maker, min(FILL_BATCH, shape.dossiers - start), shape, filled)
        with writing(engine) as conn:
            conn.execute(insert(DOSSIERS), batch.dossiers)
            if batch.documents:
                conn.execute(insert(DOCUMENTS), batch.documents)
                conn.execute(insert(VERSIONS), batch.versions)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    filled.seconds = time.perf_counter() - started
    return filled


# -- part 1: timing `plan` --------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Seconds: the first call, then the median and p99 of all calls."""

    first: float
    median: float
    p99: float
    calls: int


def timed(call: Callable[[], object], repeat: int) -> Timing:
    samples: list[float] = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return Timing(samples[0], statistics.median(samples), percentile(samples, 99), repeat)


def plan_command(url: str, data_dir: Path, by_us: int) -> Callable[[], object]:
    """What `dossier-vault-retention plan` does after parsing its arguments."""
    config = Config(data_dir=data_dir, database_url=url, master_key_file=key_file(data_dir))

    def plan() -> object:
        with open_retention(config) as adapters:
            return adapters.index.due_summary(by_us)

    return plan


def key_file(directory: Path) -> Path:
    """A master key file, as production has (the development key warns at every use)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / "master-keys.json"
    create_key_file(path)
    return path


def explain(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """The backend's plan of `statement` with the very parameters it was sent with."""
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + statement, parameters).all()
    if not sqlite:
        return [str(row[0]) for row in rows]
    depth: dict[int, int] = {0: 0}
    lines = []
    for node, parent, _unused, detail in rows:
        depth[node] = depth.get(parent, 0) + 1
        lines.append("  " * (depth[node] - 1) + str(detail))
    return lines


def explained(engine: Engine, call: Callable[[], object]) -> list[str]:
    """The plans of every SELECT `call` sends (one for the due queries)."""
    lines: list[str] = []
    for statement, parameters in captured_selects(engine, call):
        lines += explain(engine, statement, parameters)
    return lines


@dataclass(frozen=True)
class PlanResult:
    backend: str
    filled: Filled
    due_summary: Timing
    due_dossiers: Timing
    plan_command: Timing
    explain_due_dossiers: list[str]
    explain_due_summary: list[str]
    fill_vmhwm_kib: int  # this process's peak memory: up to the end of the fill
    plan_vmhwm_kib: int  # and from then to the end of the timed calls

    @property
    def index_used(self) -> bool:
        plans = (self.explain_due_dossiers, self.explain_due_summary)
        return all(any("ix_dossiers_due" in line for line in plan) for plan in plans)

    @property
    def full_scans(self) -> list[str]:
        """Tables the due queries read whole: a cost that grows with the table, not with
        what is due (SQLite `SCAN t`, PostgreSQL `Seq Scan on t`)."""
        return sorted(
            {
                table
                for line in self.explain_due_summary + self.explain_due_dossiers
                for table in scanned_table(line)
            }
        )


def scanned_table(line: str) -> list[str]:
    words = line.replace("->", "").split()
    if words[:1] == ["SCAN"] and len(words) > 1:
        return [words[1]]
    if words[:3] == ["Seq", "Scan", "on"] and len(words) > 3:
        return [words[3]]
    return []


def measure_plan(backend: str, url: str, workdir: Path, shape: Shape, repeat: int) -> PlanResult:
    engine = make_engine(url)
    try:
        index = SqlIndex(engine)
        index.create_schema()
        now_us = to_us_now()
        filled = fill(engine, shape, now_us)
        fill_peak = peak_rss_kib(os.getpid())
        reset_peak_rss()
        summary = timed(lambda: index.due_summary(now_us), repeat)
        due = timed(lambda: index.due_dossiers(now_us, BATCH), repeat)
        command = timed(plan_command(url, workdir / f"{backend}-data", now_us), repeat)
        plan_peak = peak_rss_kib(os.getpid())
        check_summary(summary_totals(index.due_summary(now_us)), filled)
        return PlanResult(
            backend=backend,
            filled=filled,
            due_summary=summary,
            due_dossiers=due,
            plan_command=command,
            explain_due_dossiers=explained(engine, lambda: index.due_dossiers(now_us, BATCH)),
            explain_due_summary=explained(engine, lambda: index.due_summary(now_us)),
            fill_vmhwm_kib=fill_peak,
            plan_vmhwm_kib=plan_peak,
        )
    finally:
        engine.dispose()


def reset_peak_rss() -> None:
    """Resets this process's VmHWM to its current RSS (Linux 4.0+; else left as is)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return


def to_us_now() -> int:
    return time.time_ns() // 1000


def summary_totals(summary: Sequence[Any]) -> tuple[int, int]:
    return sum(s.dossiers for s in summary), sum(s.bytes for s in summary)


def check_summary(totals: tuple[int, int], filled: Filled) -> None:
    if totals != (filled.due, filled.due_bytes):
        raise RuntimeError(f"due_summary says {totals}, the fill {filled.due, filled.due_bytes}")


def bench_plan(backends: Sequence[str], shape: Shape, repeat: int) -> list[PlanResult]:
    results = []
    with tempfile.TemporaryDirectory(prefix="vault-bench-retention-") as tmp:
        workdir = Path(tmp)
        for backend in backends:
            if backend == "sqlite":
                url = f"sqlite:///{workdir / 'index.sqlite3'}"
                results.append(measure_plan(backend, url, workdir, shape, repeat))
                continue
            url, drop = postgres_schema()
            try:
                results.append(measure_plan(backend, url, workdir, shape, repeat))
            finally:
                drop()
    return results


# -- part 2: the run on S3 --------------------------------------------------------------


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """http://127.0.0.1:<port> of a moto S3 server in a thread of this process."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_settings(endpoint: str, bucket: str) -> S3Settings:
    return S3Settings(
        bucket=bucket,
        endpoint_url=endpoint,
        region=REGION,
        access_key_id=DUMMY_KEY,
        secret_access_key=DUMMY_KEY,
        path_style=True,
    )


def versioned_bucket(client: S3Client) -> str:
    name = f"vault-bench-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def patient_ins(number: int) -> str:
    """A valid INS, one per number (a man born in January 1985 in Paris)."""
    nir13 = f"1850175{number:06d}"
    return f"{nir13}{ins_key(nir13):02d}"


def due_dossier(vault: Vault, number: int, documents: int, size: int) -> tuple[uuid.UUID, bool]:
    """A dossier with documents, made due by its patient: an odd `number` asks for its
    deletion (due at once), an even one closes it (due once its deadline is moved back).
    Returns its id and whether it still needs its deadline moved."""
    ins = patient_ins(number)
    patient = Actor(ActorKind.PATIENT, ins)
    dossier_id = str(vault.dossiers.create(patient, ins, call()).dossier_id)
    for _ in range(documents):
        data = os.urandom(size)
        upload = vault.uploads.begin(patient, dossier_id, METADATA, call())
        upload.write(data)
        upload.commit(len(data), hashlib.sha256(data).digest())
    if number % 2:
        vault.dossiers.request_deletion(patient, dossier_id, call())
        return uuid.UUID(dossier_id), False
    vault.dossiers.close(patient, dossier_id, ClosureReason.PATIENT_REQUEST, call())
    return uuid.UUID(dossier_id), True


def call() -> Call:
    return Call(str(uuid.uuid4()))


def ten_years_pass(url: str, dossiers: Sequence[uuid.UUID]) -> None:
    """As if the closed dossiers' conservation deadlines were yesterday."""
    engine = make_engine(url)
    try:
        with writing(engine) as conn:
            conn.execute(
                update(DOSSIERS)
                .where(DOSSIERS.c.id.in_(dossiers))
                .values(destroy_after_us=DOSSIERS.c.closed_us - DAY_US)
            )
    finally:
        engine.dispose()


def populate(config: Config, first: int, count: int, documents: int, size: int) -> None:
    """`count` due dossiers numbered from `first`, through the service's use cases."""
    components = build(config)
    closed = []
    try:
        for number in range(first, first + count):
            dossier_id, needs_time = due_dossier(components.vault, number, documents, size)
            if needs_time:
                closed.append(dossier_id)
    finally:
        components.close_journal()
        components.close()
    ten_years_pass(config.index_url, closed)


def timed_destroyer(destroyer: Destroyer, limit: int) -> tuple[RunReport, float]:
    started = time.perf_counter()
    report = destroyer.run(limit)
    return report, time.perf_counter() - started


def added(total: RunReport, part: RunReport) -> RunReport:
    return RunReport(
        dossiers=total.dossiers + part.dossiers,
        objects=total.objects + part.objects,
        object_versions=total.object_versions + part.object_versions,
        bytes=total.bytes + part.bytes,
        expired_documents=total.expired_documents + part.expired_documents,
        certificates=total.certificates + part.certificates,
    )


# -- part 2: the raw reference ----------------------------------------------------------


def raw_objects(client: S3Client, count: int, size: int) -> RawSet:
    """`count` objects of `size` bytes in a new versioned bucket, under keys laid out as
    the vault's store lays its."""
    bucket = versioned_bucket(client)
    keys = [f"objects/{shard_path(new_object_key())}" for _ in range(count)]
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=os.urandom(size))
    return RawSet(client, bucket, keys)


def delete_every_version(client: S3Client, bucket: str, key: str) -> int:
    """As `S3BlobStore.delete`: list the key's versions, delete each version and marker."""
    versions: list[str] = []
    markers: list[str] = []
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
        versions += [
            v.get("VersionId") or "null" for v in page.get("Versions", []) if v.get("Key") == key
        ]
        markers += [
            m.get("VersionId") or "null"
            for m in page.get("DeleteMarkers", [])
            if m.get("Key") == key
        ]
    for version_id in versions + markers:
        client.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
    return len(versions)


@dataclass(frozen=True)
class RawSet:
    """The reference's objects, in their own versioned bucket."""

    client: S3Client
    bucket: str
    keys: list[str]

    def part(self, index: int, parts: int) -> list[str]:
        count = len(self.keys)
        return self.keys[count * index // parts : count * (index + 1) // parts]


def timed_raw_deletes(raw: RawSet, keys: Sequence[str]) -> float:
    started = time.perf_counter()
    deleted = sum(delete_every_version(raw.client, raw.bucket, key) for key in keys)
    elapsed = time.perf_counter() - started
    if deleted != len(keys):
        raise RuntimeError(f"raw deletes removed {deleted} versions of {len(keys)} objects")
    return elapsed


# -- part 2: the profile ----------------------------------------------------------------

# (label, file suffix or "~" for builtins, function name or a substring of a builtin's)
PROFILED = (
    ("Destroyer.run (total)", "retention/destroyer.py", "run"),
    (
        "S3 deletes (list versions, delete each)",
        "vault/blobstore/s3/store.py",
        "_delete_every_version",
    ),
    ("  of which waiting for S3 (socket reads)", "~", "recv_into"),
    ("journal appends (2 per dossier)", "vault/journal/sql.py", "append_many"),
    ("journal look-ups for a rerun (_find_entry)", "retention/destroyer.py", "_find_entry"),
    ("index: begin_destruction (manifest)", "vault/index/sql/retention.py", "begin_destruction"),
    ("index: destroy_dossier_keys", "vault/index/sql/keys.py", "destroy_dossier_keys"),
    (
        "index: complete_destruction (tombstone)",
        "vault/index/sql/retention.py",
        "complete_destruction",
    ),
    ("index: dossier_versions", "vault/index/sql/retention.py", "dossier_versions"),
    ("index: dossier_key_versions", "vault/index/sql/retention.py", "dossier_key_versions"),
    ("index: due_dossiers", "vault/index/sql/retention.py", "due_dossiers"),
    ("SQLite commits (fsync, synchronous=FULL)", "~", "'commit' of 'sqlite3.Connection'"),
    ("certificate signing (_sign)", "retention/destroyer.py", "_sign"),
    ("rolling windows (expire_documents)", "retention/destroyer.py", "expire_documents"),
)


@dataclass(frozen=True)
class ProfileRow:
    label: str
    seconds: float
    calls: int


def cumulative(stats: dict[Any, Any], where: str, name: str) -> tuple[float, int]:
    """Cumulative seconds and primitive calls of the matching functions."""
    seconds, calls = 0.0, 0
    for (path, _line, function), (primitive, _total, _own, cum, _callers) in stats.items():
        builtin = where == "~" and path == "~" and name in function
        if builtin or (path.endswith(where) and function == name):
            seconds += cum
            calls += primitive
    return seconds, calls


def profiled_run(config: Config) -> tuple[list[ProfileRow], list[str], RunReport]:
    """One destroyer run under cProfile: the rows of PROFILED, then the top own times."""
    profile = cProfile.Profile()
    with open_retention(config) as adapters:
        profile.enable()
        report = adapters.destroyer.run()
        profile.disable()
    stats = pstats.Stats(profile)
    table = stats.stats  # type: ignore[attr-defined]
    rows = [ProfileRow(label, *cumulative(table, where, name)) for label, where, name in PROFILED]
    return rows, top_own_times(table, 12), report


def top_own_times(stats: dict[Any, Any], count: int) -> list[str]:
    ranked = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:count]
    return [
        f"{own:8.3f} s own, {calls:6d} calls  {Path(path).name}:{line} {function}"
        for (path, line, function), (_primitive, calls, own, _cum, _callers) in ranked
    ]


# -- part 2: the whole of it ------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    dossiers: int
    objects: int
    object_versions: int
    object_bytes: int
    vault_seconds: float
    store_seconds: float
    raw_objects: int
    raw_seconds: float
    setup_seconds: float
    rounds: int
    profiled_dossiers: int = 0
    profile: list[ProfileRow] = field(default_factory=list)
    profile_top: list[str] = field(default_factory=list)

    @property
    def dossiers_per_s(self) -> float:
        return self.dossiers / self.vault_seconds

    @property
    def objects_per_s(self) -> float:
        return self.objects / self.vault_seconds

    @property
    def raw_objects_per_s(self) -> float:
        return self.raw_objects / self.raw_seconds

    @property
    def ratio(self) -> float:
        return self.objects_per_s / self.raw_objects_per_s

    @property
    def own_ms_per_dossier(self) -> float:
        """The vault's own time per dossier: the run's, outside the store's `delete`."""
        return (self.vault_seconds - self.store_seconds) / self.dossiers * 1000

    @property
    def store_share(self) -> float:
        return self.store_seconds / self.vault_seconds


@dataclass(frozen=True)
class RunPlan:
    dossiers: int
    documents: int
    size: int
    profile_dossiers: int
    rounds: int


@dataclass(frozen=True)
class Alternated:
    report: RunReport
    vault_seconds: float
    store_seconds: float  # of vault_seconds, in the blob store's `delete`
    raw_seconds: float


class StoreTimer:
    """Counts the seconds spent in a blob store's `delete`, by wrapping the instance's
    method (the destroyer holds the very same store object)."""

    def __init__(self, blobs: BlobStore) -> None:
        self.seconds = 0.0
        self._delete = blobs.delete
        blobs.delete = self._timed  # type: ignore[method-assign]

    def _timed(self, key: str) -> DeleteResult:
        started = time.perf_counter()
        try:
            return self._delete(key)
        finally:
            self.seconds += time.perf_counter() - started


def slice_size(total: int, index: int, parts: int) -> int:
    return total * (index + 1) // parts - total * index // parts


def alternated(config: Config, raw: RawSet, plan: RunPlan) -> Alternated:
    """The vault's run and the raw deletes in alternating slices (`plan.rounds` each),
    so that the load of a shared machine weighs on both alike."""
    report, vault_seconds, raw_seconds = RunReport(), 0.0, 0.0
    with open_retention(config) as adapters:
        store = StoreTimer(adapters.blobs)
        for index in range(plan.rounds):
            raw_seconds += timed_raw_deletes(raw, raw.part(index, plan.rounds))
            limit = slice_size(plan.dossiers, index, plan.rounds)
            part, elapsed = timed_destroyer(adapters.destroyer, limit)
            report, vault_seconds = added(report, part), vault_seconds + elapsed
    check_report(report, plan.dossiers, plan.documents)
    return Alternated(report, vault_seconds, store.seconds, raw_seconds)


def check_report(report: RunReport, dossiers: int, documents: int) -> None:
    if (report.dossiers, report.objects) != (dossiers, dossiers * documents):
        raise RuntimeError(f"destroyed {report.dossiers} dossiers, {report.objects} objects")


def bench_run(plan: RunPlan) -> RunResult:
    with tempfile.TemporaryDirectory(prefix="vault-bench-retention-") as tmp, moto_endpoint() as s3:
        admin = make_client(s3_settings(s3, "unused"))
        config = Config(
            data_dir=Path(tmp) / "data",
            master_key_file=key_file(Path(tmp) / "keys"),
            s3=s3_settings(s3, versioned_bucket(admin)),
        )
        started = time.perf_counter()
        populate(config, 0, plan.dossiers, plan.documents, plan.size)
        raw = raw_objects(admin, plan.dossiers * plan.documents, plan.size)
        setup = time.perf_counter() - started
        run = alternated(config, raw, plan)
        result = RunResult(
            dossiers=run.report.dossiers,
            objects=run.report.objects,
            object_versions=run.report.object_versions,
            object_bytes=run.report.bytes,
            vault_seconds=run.vault_seconds,
            store_seconds=run.store_seconds,
            raw_objects=len(raw.keys),
            raw_seconds=run.raw_seconds,
            setup_seconds=setup,
            rounds=plan.rounds,
        )
        if plan.profile_dossiers == 0:
            return result
        populate(config, plan.dossiers, plan.profile_dossiers, plan.documents, plan.size)
        rows, top, profiled = profiled_run(config)
        check_report(profiled, plan.profile_dossiers, plan.documents)
        return replace(
            result, profiled_dossiers=plan.profile_dossiers, profile=rows, profile_top=top
        )


# -- output -----------------------------------------------------------------------------


def seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def plan_markdown(results: Sequence[PlanResult], goal: float) -> list[str]:
    lines = [
        "| index | dossiers | due | documents | fill | due_summary first / median / p99 "
        "| due_dossiers(100) first / median / p99 | plan command first / median / p99 "
        "| ix_dossiers_due used | tables read whole | plan < 2 s | VmHWM fill / plan |",
        "|---|---:|---:|---:|---:|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.filled.dossiers:,} | {r.filled.due:,} "
            f"| {r.filled.documents:,} | {seconds(r.filled.seconds)} | {triple(r.due_summary)} "
            f"| {triple(r.due_dossiers)} | {triple(r.plan_command)} "
            f"| {'yes' if r.index_used else 'NO'} | {', '.join(r.full_scans) or 'none'} "
            f"| {'met' if r.plan_command.p99 < goal else 'NOT met'} "
            f"| {mib(r.fill_vmhwm_kib)} / {mib(r.plan_vmhwm_kib)} |"
        )
    calls = results[0].due_summary.calls if results else 0
    lines += [
        "",
        f"Over {calls} calls each. Plan command: `open_retention` on a fresh engine, then "
        "`due_summary`; goal checked on its p99. PostgreSQL ANALYZEd after the fill, "
        "SQLite not.",
    ]
    for r in results:
        lines += ["", f"{r.backend}: due_dossiers(now, 100) plan:", "```"]
        lines += [*r.explain_due_dossiers, "```", f"{r.backend}: due_summary(now) plan:", "```"]
        lines += [*r.explain_due_summary, "```"]
    return lines


def triple(timing: Timing) -> str:
    return f"{seconds(timing.first)} / {seconds(timing.median)} / {seconds(timing.p99)}"


def run_markdown(r: RunResult) -> list[str]:
    lines = [
        "| dossiers | objects (versions) | vault run | of which in store.delete "
        "| vault's own / dossier | dossiers/s | objects/s | raw deletes | raw objects/s "
        "| ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {r.dossiers} | {r.objects} ({r.object_versions}) | {seconds(r.vault_seconds)} "
        f"| {seconds(r.store_seconds)} ({100 * r.store_share:.0f}%) "
        f"| {r.own_ms_per_dossier:.1f} ms | {r.dossiers_per_s:.1f} | {r.objects_per_s:.1f} "
        f"| {seconds(r.raw_seconds)} | {r.raw_objects_per_s:.1f} | {r.ratio:.2f} |",
        "",
        "Ratio = vault objects/s / raw objects/s (goal: near 1, the run bound by the store).",
        f"Vault run and raw deletes alternated in {r.rounds} slices each. Setup (dossiers "
        f"through the use cases, raw objects): {seconds(r.setup_seconds)}.",
    ]
    if not r.profile:
        return lines
    total = r.profile[0].seconds or 1.0
    lines += [
        "",
        f"cProfile of a run destroying {r.profiled_dossiers} more dossiers "
        "(cumulative times; rows overlap where one calls another):",
        "",
        "| where | seconds | % of run | ms per dossier | calls |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {row.label} | {row.seconds:.3f} | {100 * row.seconds / total:.0f}% "
        f"| {1000 * row.seconds / r.profiled_dossiers:.2f} | {row.calls} |"
        for row in r.profile
    ]
    return [*lines, "", "Top own times:", "```", *r.profile_top, "```"]


# -- the command ------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dossiers", type=int, help=f"default {DEFAULT_DOSSIERS:,}")
    parser.add_argument("--due-fraction", type=float, default=0.01)
    parser.add_argument("--future-fraction", type=float, default=0.20)
    parser.add_argument(
        "--other-documents", type=int, default=0, help="documents per dossier not due"
    )
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per query")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--run-dossiers", type=int, help=f"default {DEFAULT_RUN_DOSSIERS}")
    parser.add_argument("--documents", type=int, default=2, help="per destroyed dossier")
    parser.add_argument("--document-kib", type=int, default=4)
    parser.add_argument("--profile-dossiers", type=int, help="0: no profile")
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternating slices of vault run and raw deletes"
    )
    parser.add_argument("--only", choices=("plan", "run"))
    parser.add_argument("--quick", action="store_true", help="a smoke run, under a minute")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    quick = args.quick
    if args.dossiers is None:
        args.dossiers = QUICK_DOSSIERS if quick else DEFAULT_DOSSIERS
    if args.run_dossiers is None:
        args.run_dossiers = QUICK_RUN_DOSSIERS if quick else DEFAULT_RUN_DOSSIERS
    if args.profile_dossiers is None:
        args.profile_dossiers = QUICK_PROFILE_DOSSIERS if quick else DEFAULT_PROFILE_DOSSIERS
    if min(args.dossiers, args.run_dossiers, args.repeat, args.documents, args.rounds) < 1:
        parser.error("sizes and counts must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    shape = Shape(
        args.dossiers, args.due_fraction, args.future_fraction, args.other_documents, args.seed
    )
    plans: list[PlanResult] = []
    run: RunResult | None = None
    if args.only != "run":
        plans = bench_plan(args.backends.split(","), shape, args.repeat)
    if args.only != "plan":
        run = bench_run(
            RunPlan(
                args.run_dossiers,
                args.documents,
                args.document_kib * KIB,
                args.profile_dossiers,
                args.rounds,
            )
        )
    if args.json:
        print(
            json.dumps({"plan": [asdict(p) for p in plans], "run": run and asdict(run)}, indent=2)
        )
        return 0
    lines = plan_markdown(plans, PLAN_GOAL_SECONDS) if plans else []
    lines += ([""] if lines else []) + (run_markdown(run) if run is not None else [])
    peak = mib(peak_rss_kib(os.getpid()))
    lines.append(f"\nThis process's VmHWM: {peak} (moto's S3 included: it copies objects).")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
