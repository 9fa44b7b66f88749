"""Merkle tree benchmark: extension, proofs at scale, and verification beside `sha256sum`.

    python bench/bench_merkle.py                 # 1M entries on SQLite
    python bench/bench_merkle.py --entries 10000000

Fills a journal (SQLite file) with N entries, then times: the checkpointer's first v2
checkpoint (replaying and verifying every entry, extending the stored tree from 0 to N
and storing its level-8k nodes), the in-process frontier alone (leaf hash + append),
random inclusion and consistency proofs at size N (milliseconds and SQL statements each),
and `dossier-vault journal verify` of the full export (which now rebuilds the tree and
checks the checkpoint's root) beside `sha256sum` on the same file. Prints a Markdown
table; `--json` for machines. Not a test: run on demand.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event

from bench.bench_journal import EVENT, ORIGIN
from vault.crypto.localkeys import LocalCheckpointSigner
from vault.journal.checkpointer import Checkpointer, DirectoryPublisher
from vault.journal.export import export_lines
from vault.journal.merkle import Frontier, consistency_ranges, inclusion_ranges, leaf_hash
from vault.journal.sql import SqlJournal
from vault.journal.tree import SqlMerkleTree
from vault.sqlstore import make_engine

_BATCH = 20_000
SIGNER = LocalCheckpointSigner(Ed25519PrivateKey.generate())


class _Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def fill(journal: SqlJournal, entries: int) -> float:
    started = time.monotonic()
    for first in range(0, entries, _BATCH):
        count = min(_BATCH, entries - first)
        journal.append_many(
            [replace(EVENT, time_us=1_764_000_000_000_000 + first + i) for i in range(count)]
        )
    return time.monotonic() - started


def bench_frontier(journal: SqlJournal, entries: int) -> float:
    bodies = [e.canonical for e in journal.entries(1, min(entries, 200_000))]
    started = time.monotonic()
    frontier = Frontier()
    for body in bodies:
        frontier.append(leaf_hash(body))
    frontier.root()
    return len(bodies) / (time.monotonic() - started)


def bench_proofs(tree: SqlMerkleTree, size: int, count: int) -> dict[str, float]:
    statements = [0]

    def counted(*_: Any) -> None:
        statements[0] += 1

    event.listen(tree.engine, "before_cursor_execute", counted)
    rng = random.Random(1)
    found: dict[str, float] = {}
    for kind in ("inclusion", "consistency"):
        statements[0] = 0
        started = time.monotonic()
        for _ in range(count):
            if kind == "inclusion":
                ranges = inclusion_ranges(rng.randrange(size), size)
            else:
                ranges = consistency_ranges(rng.randint(1, size), size)
            tree.prove(ranges)
        found[f"{kind}_ms"] = round(1000 * (time.monotonic() - started) / count, 2)
        found[f"{kind}_statements"] = round(statements[0] / count, 1)
    event.remove(tree.engine, "before_cursor_execute", counted)
    return found


def bench_verify(journal: SqlJournal, workdir: Path) -> dict[str, float]:
    export = workdir / "export.jsonl"
    with export.open("wb") as out:
        lines = export_lines(journal.entries(), dict(journal.checkpoints()))
        for line in lines:
            out.write(line)
    started = time.monotonic()
    subprocess.run(["sha256sum", str(export)], check=True, stdout=subprocess.DEVNULL)
    sha256sum_s = time.monotonic() - started
    key = Checkpointer(journal, SIGNER, ORIGIN, DirectoryPublisher(workdir), _Clock()).verifier_key
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "vault.cli", "journal", "verify", str(export),
         "--key", key.encode(), "--require-checkpoint"],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    verify_s = time.monotonic() - started
    size = export.stat().st_size
    return {
        "export_mb": round(size / 1e6),
        "verify_mb_per_s": round(size / 1e6 / verify_s, 1),
        "sha256sum_mb_per_s": round(size / 1e6 / sha256sum_s, 1),
        "verify_share_of_sha256sum": round(sha256sum_s / verify_s, 3),
    }


def run(entries: int, proofs: int, workdir: Path) -> dict[str, Any]:
    engine = make_engine(f"sqlite:///{workdir / 'journal.sqlite3'}")
    journal = SqlJournal(engine)
    journal.create_schema()
    filled_s = fill(journal, entries)
    checkpointer = Checkpointer(journal, SIGNER, ORIGIN, DirectoryPublisher(workdir), _Clock())
    started = time.monotonic()
    checkpointer.checkpoint()
    first_checkpoint_s = time.monotonic() - started
    tree = SqlMerkleTree(engine)
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(),
        "entries": entries,
        "fill_entries_per_s": round(entries / filled_s),
        "first_checkpoint_entries_per_s": round(entries / first_checkpoint_s),
        "frontier_entries_per_s": round(bench_frontier(journal, entries)),
        **bench_proofs(tree, entries, proofs),
        **bench_verify(journal, workdir),
    }
    engine.dispose()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vault-bench-merkle-") as tmp:
        report = run(args.entries, args.proofs, Path(tmp))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print("| measure | value |\n|---|---:|")
        for name, value in report.items():
            print(
                f"| {name} | {value:,} |"
                if isinstance(value, int | float)
                else f"| {name} | {value} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
