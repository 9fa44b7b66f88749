"""Journal benchmark: append throughput under concurrent writers, and offline verification.

    python bench/bench_journal.py                      # quick: 1M-entry export
    python bench/bench_journal.py --verify-entries 10000000
    python bench/bench_journal.py --verify-only --verify-entries 300000

Part 1 appends journal events from 1, 8 and 32 threads for a few seconds each, through
the group committer the server uses (and, for contrast, one transaction per event), on
SQLite (a file) and PostgreSQL (`VAULT_BENCH_POSTGRES_URL`, default the local server; a
fresh schema, dropped afterwards). Part 2 writes an export of N entries with a signed
checkpoint, then times `dossier-vault journal verify` on it in a child process (its peak
memory included) beside `sha256sum` on the same file (the issue's yardstick), a plain
`hashlib.sha256` loop over the same lines, and the floor of any Python verifier (per
line: orjson parse and re-encode, three hashes; no check); `--verify-only` skips part 1.
Prints a Markdown table; `--json` for machines. Not a test: run on demand.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from vault.crypto.localkeys import LocalCheckpointSigner
from vault.journal.chain import ENTRY_DOMAIN, GENESIS_HASH, LINK_DOMAIN, JournalEvent, seal_entry
from vault.journal.checkpoint import Checkpoint, VerifierKey, sign
from vault.journal.export import checkpoint_line, entry_line
from vault.journal.group import GroupCommitJournal
from vault.journal.sql import SqlJournal
from vault.sqlstore import make_engine

POSTGRES_URL = os.environ.get(
    "VAULT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
EVENT = JournalEvent(
    time_us=0,
    actor_kind="professional",
    actor_ref="10003500005",
    action="document.read",
    dossier="01a214a7-83c6-7298-9bfd-b41ded0f71a0",
    documents=("01a214a7-84e8-76d7-bdd7-948cf2dc75fc",),
    decision="allow",
    reason="holder",
    emergency=False,
    request_id="00000000-0000-4000-8000-000000000000",
    actor_profession="10",
)
ORIGIN = "bench/journal"


def _now_us() -> int:
    return time.time_ns() // 1000


def _run_writers(append: Callable[[JournalEvent], object], writers: int, seconds: float) -> float:
    """Events per second appended by `writers` threads during `seconds`."""
    counts = [0] * writers
    stop = time.monotonic() + seconds

    def work(slot: int) -> None:
        while time.monotonic() < stop:
            append(replace(EVENT, time_us=_now_us(), request_id=f"{slot}-{counts[slot]}"))
            counts[slot] += 1

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def postgres_schema() -> tuple[str, Callable[[], None]]:
    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


def bench_appends(seconds: float, workdir: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for backend in ("sqlite", "postgresql"):
        for mode in ("group commit", "one transaction per event"):
            for writers in (1, 8, 32):
                if mode != "group commit" and writers != 32:
                    continue
                if backend == "sqlite":
                    url, cleanup = f"sqlite:///{workdir / f'{secrets.token_hex(4)}.db'}", None
                else:
                    url, cleanup = postgres_schema()
                engine = make_engine(url)
                journal = SqlJournal(engine)
                journal.create_schema()
                group = GroupCommitJournal(journal) if mode == "group commit" else None
                append = group.append if group is not None else journal.append
                rate = _run_writers(append, writers, seconds)
                if group is not None:
                    group.close()
                engine.dispose()
                if cleanup is not None:
                    cleanup()
                rows.append(
                    {
                        "backend": backend,
                        "mode": mode,
                        "writers": writers,
                        "events_per_s": round(rate),
                    }
                )
    return rows


def write_export(path: Path, entries: int) -> tuple[VerifierKey, float]:
    """An export of `entries` entries with a checkpoint at the end; returns its key."""
    signer = LocalCheckpointSigner(Ed25519PrivateKey.generate())
    head, time_us = GENESIS_HASH, 1_764_000_000_000_000
    started = time.monotonic()
    with path.open("wb") as out:
        for seq in range(1, entries + 1):
            entry = seal_entry(seq, replace(EVENT, time_us=time_us + seq), head)
            out.write(entry_line(entry))
            head = entry.chain_hash
        note = sign(Checkpoint(ORIGIN, entries, head, time_us + entries), ORIGIN, signer)
        out.write(checkpoint_line(note))
    return VerifierKey(ORIGIN, signer.public_key), time.monotonic() - started


def bench_verify(entries: int, workdir: Path) -> dict[str, object]:
    export = workdir / "export.jsonl"
    key, written_in = write_export(export, entries)
    started = time.monotonic()
    with export.open("rb") as lines:
        for line in lines:
            hashlib.sha256(line).digest()
    raw_seconds = time.monotonic() - started
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "vault.cli",
            "journal",
            "verify",
            str(export),
            "--key",
            key.encode(),
            "--require-checkpoint",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    verify_seconds = time.monotonic() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    subprocess.run(["sha256sum", str(export)], check=True, stdout=subprocess.DEVNULL)
    sha256sum_seconds = time.monotonic() - started
    floor_seconds = _floor(export)
    return {
        "entries": entries,
        "export_bytes": export.stat().st_size,
        "export_written_s": round(written_in, 1),
        "verify_entries_per_s": round(entries / verify_seconds),
        "sha256_loop_entries_per_s": round(entries / raw_seconds),
        "verify_share_of_sha256_loop": round(raw_seconds / verify_seconds, 2),
        "verify_mb_per_s": round(export.stat().st_size / verify_seconds / 1e6, 1),
        "sha256sum_mb_per_s": round(export.stat().st_size / sha256sum_seconds / 1e6, 1),
        "verify_share_of_sha256sum": round(sha256sum_seconds / verify_seconds, 3),
        "python_floor_entries_per_s": round(entries / floor_seconds),
        "verifier_peak_rss_mib": round(max(peak_kib, before) / 1024, 1),
    }


def _floor(export: Path) -> float:
    """Seconds for the least a Python verifier does per line: parse, re-encode, hash the
    entry, its link and its leaf (no check, no branch)."""
    entry, link, leaf = (hashlib.sha256(p) for p in (ENTRY_DOMAIN, LINK_DOMAIN, b"\x00"))
    sort_keys = orjson.OPT_SORT_KEYS
    started = time.monotonic()
    with export.open("rb") as lines:
        for line in lines:
            if not line.startswith(b'{"entry_hash"'):
                continue  # the checkpoint line
            canonical = line[89:-2]
            orjson.dumps(orjson.loads(canonical), option=sort_keys)
            for hasher in (entry.copy(), link.copy(), leaf.copy()):
                hasher.update(canonical)
                hasher.digest()
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per append measurement")
    parser.add_argument("--verify-entries", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--verify-only", action="store_true", help="skip the appends")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vault-bench-journal-") as tmp:
        appends = [] if args.verify_only else bench_appends(args.seconds, Path(tmp))
        verification = bench_verify(args.verify_entries, Path(tmp))
    report = {
        "when": datetime.now(UTC).isoformat(),
        "appends": appends,
        "verification": verification,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("| backend | mode | writers | journaled events/s |")
    print("|---|---|---:|---:|")
    for row in appends:
        print(f"| {row['backend']} | {row['mode']} | {row['writers']} | {row['events_per_s']} |")
    print()
    print("| verification | value |")
    print("|---|---:|")
    for name, value in verification.items():
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
