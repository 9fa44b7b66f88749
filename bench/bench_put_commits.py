"""PutDocument and GetDocument through the service in process: CPU and commits per call.

    python -m bench.bench_put_commits --threads 1,8,32 --seconds 5

The server's CPU per call (`bench.bench_calls`) moves by ±30% on this shared machine,
more than the changes it should measure. This benchmark leaves gRPC out: it builds the
service as the server does on the embedded default (SQLite index and journal in one
file, group commit, local blob directory, a thread pool for the service's background
work) and has N threads put 4 KiB documents into one dossier (then read them back,
each thread one document), for a few seconds each. It reports calls/s, the process's
CPU per call (`time.process_time`, all threads) and the database commits per call
(SQLAlchemy `commit` events on the index's and the journal's engines: each is a fsync on
SQLite). Run it from two checkouts (PYTHONPATH) to compare code. Not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Engine, event

from vault.blobstore.file import FileBlobStore
from vault.crypto.localkeys import LocalKeyFileProvider, create_key_file
from vault.domain.clock import SystemClock
from vault.domain.model import Actor, ActorKind, DocumentCategory, DocumentMetadata
from vault.index.sql import SqlIndex
from vault.journal.group import GroupCommitJournal
from vault.journal.sql import SqlJournal
from vault.service import Call, Vault
from vault.sqlstore import make_engine

INS = "184127645108946"  # a valid test INS (the tests' patient)
PATIENT = Actor(ActorKind.PATIENT, INS)
REPORT = DocumentMetadata("Compte rendu", DocumentCategory.REPORTS, "application/pdf")
CONTENT = os.urandom(4096)
DIGEST = hashlib.sha256(CONTENT).digest()


def _commits(engine: Engine) -> list[int]:
    """[commits, statements through SQLAlchemy, statements SQLite ran] on `engine`,
    counted as they happen (the last by SQLite's trace callback: every statement, the
    BEGIN, COMMIT and savepoints sent on the driver's connection included)."""
    count = [0, 0, 0]

    def _ran(_sql: str) -> None:
        count[2] += 1

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.set_trace_callback(_ran)

    @event.listens_for(engine, "commit")
    def _commit(_conn: object) -> None:
        count[0] += 1

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(*_args: object) -> None:
        count[1] += 1

    engine.dispose()  # the pooled connections were made before the trace callback
    return count


def _vault(root: Path) -> tuple[Vault, GroupCommitJournal, list[list[int]]]:
    url = f"sqlite:///{root / 'vault.sqlite3'}"
    journal_log = SqlJournal(make_engine(url))
    journal_log.create_schema()
    index = SqlIndex(make_engine(url))
    index.create_schema()
    create_key_file(root / "keys.json")
    journal = GroupCommitJournal(journal_log)
    vault = Vault(
        index=index,
        blobs=FileBlobStore(root / "blobs"),
        keys=LocalKeyFileProvider(root / "keys.json"),
        journal=journal,
        journal_log=journal_log,
        clock=SystemClock(),
    )
    return vault, journal, [_commits(index.engine), _commits(journal_log.engine)]


def _put(vault: Vault, dossier: str, n: int) -> str:
    upload = vault.uploads.begin(PATIENT, dossier, REPORT, Call(f"put-{n}"))
    try:
        upload.write(CONTENT)
        return str(upload.commit(len(CONTENT), DIGEST).document_id)
    except BaseException:
        upload.abort()
        raise


def _get(vault: Vault, dossier: str, document: str, n: int) -> None:
    _, chunks = vault.documents.open(PATIENT, dossier, document, None, Call(f"get-{n}"))
    assert b"".join(chunks) == CONTENT


def _discard(_result: object) -> None:
    return None


def _run(threads: int, seconds: float, call: Callable[[int, int], None]) -> int:
    done = [0] * threads
    end = time.monotonic() + seconds

    def loop(worker: int) -> None:
        n = 0
        while time.monotonic() < end:
            call(worker, n)
            n += 1
        done[worker] = n

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(loop, range(threads)))
    return sum(done)


def measure(threads: int, seconds: float) -> list[dict[str, float | int | str]]:
    with tempfile.TemporaryDirectory() as tmp:
        vault, journal, counters = _vault(Path(tmp))
        dossier = str(vault.dossiers.create(PATIENT, INS, Call("dossier")).dossier_id)
        dossiers = [dossier] * threads  # one patient, one dossier: new documents in it
        documents = [_put(vault, d, -1 - i) for i, d in enumerate(dossiers)]
        rows: list[dict[str, float | int | str]] = []
        for kind in ("put", "get"):
            before = [list(c) for c in counters]
            cpu, wall = time.process_time(), time.monotonic()
            if kind == "put":
                calls = _run(threads, seconds, lambda w, n: _discard(_put(vault, dossiers[w], n)))
            else:
                calls = _run(
                    threads, seconds, lambda w, n: _get(vault, dossiers[w], documents[w], n)
                )
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall
            commits = [c[0] - b[0] for c, b in zip(counters, before, strict=True)]
            statements = sum(c[1] - b[1] for c, b in zip(counters, before, strict=True))
            ran = sum(c[2] - b[2] for c, b in zip(counters, before, strict=True))
            rows.append(
                {
                    "call": kind,
                    "threads": threads,
                    "calls_per_s": calls / wall,
                    "cpu_ms_per_call": cpu / calls * 1000,
                    "index_commits_per_call": commits[0] / calls,
                    "journal_commits_per_call": commits[1] / calls,
                    "statements_per_call": statements / calls,
                    "sqlite_statements_per_call": ran / calls,
                    "load_avg_1m": os.getloadavg()[0],
                }
            )
        journal.close()
        return rows


def _markdown(row: dict[str, float | int | str]) -> str:
    return (
        f"| {row['call']} | {row['threads']} | {row['calls_per_s']:,.0f} "
        f"| {row['cpu_ms_per_call']:.2f} | {row['index_commits_per_call']:.2f} "
        f"| {row['journal_commits_per_call']:.2f} | {row['statements_per_call']:.2f} "
        f"| {row['sqlite_statements_per_call']:.2f} "
        f"| {row['load_avg_1m']:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args()
    rows = []
    if not args.json:
        print(
            "| call | threads | calls/s | CPU ms/call | index commits | journal commits "
            "| statements (SQLAlchemy) | statements (SQLite) | load |"
        )
        print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for threads in (int(t) for t in args.threads.split(",")):
        for row in measure(threads, args.seconds):
            rows.append(row)
            if not args.json:
                print(_markdown(row), flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    threading.excepthook = lambda hook: os._exit(1)  # a failing worker ends the run
    main()
