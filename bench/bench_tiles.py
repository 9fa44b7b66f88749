"""Tiles benchmark (ADR 0043): publishing, proofs from tiles at scale, offline verification.

    python -m bench.bench_tiles                          # 100k published, proofs at 10M
    python -m bench.bench_tiles --entries 1000000 --proof-entries 10000000

Times, with real journal entries (chained, canonical, ~330 bytes): the publication of
`--entries` entries in checkpoints of `--every` through `TilingPublisher` (tiles, bundles
and checkpoint files, every file fsynced), `journal verify DIR`'s verification of the
result beside the export verifier on the same entries, and inclusion and consistency
proofs read from that directory's files (a fresh `TileSource` per proof: cold, every tile
read from the file). Then proofs at `--proof-entries` from tiles held in memory (the
level-0 tiles random, the levels above computed): the hashing a proof costs at that
size, without the reads. Prints a Markdown table; `--json` for machines. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.bench_journal import EVENT, ORIGIN
from vault.crypto.localkeys import LocalCheckpointSigner
from vault.journal.chain import GENESIS_HASH, JournalEntry, seal_entry
from vault.journal.checkpoint import Checkpoint, VerifierKey, sign
from vault.journal.checkpointer import DirectoryPublisher
from vault.journal.export import entry_line
from vault.journal.merkle import Frontier, leaf_hash, perfect_root
from vault.journal.tilefiles import TileDirectory
from vault.journal.tiles import HEIGHT, WIDTH, TileSource, split_hashes
from vault.journal.tiles_verify import verify_tiles
from vault.journal.tilewriter import TilingPublisher
from vault.journal.verify import verify_export

SIGNER = LocalCheckpointSigner(Ed25519PrivateKey.generate())
KEY = VerifierKey(ORIGIN, SIGNER.public_key)


class _Journal:
    def __init__(self, entries: list[JournalEntry]) -> None:
        self.all = entries

    def entries(self, first_seq: int = 1, last_seq: int | None = None) -> Any:
        return iter(self.all[first_seq - 1 : last_seq])


def chain(count: int) -> list[JournalEntry]:
    entries, head = [], GENESIS_HASH
    for seq in range(1, count + 1):
        event = replace(EVENT, time_us=1_764_000_000_000_000 + seq, request_id=f"r{seq}")
        entries.append(seal_entry(seq, event, head))
        head = entries[-1].chain_hash
    return entries


def notes(entries: list[JournalEntry], every: int) -> list[tuple[int, str]]:
    frontier, found = Frontier(), []
    for entry in entries:
        frontier.append(leaf_hash(entry.canonical))
        if entry.seq % every == 0 or entry.seq == len(entries):
            checkpoint = Checkpoint(
                ORIGIN, entry.seq, frontier.root(), entry.event.time_us, entry.chain_hash
            )
            found.append((entry.seq, sign(checkpoint, ORIGIN, SIGNER)))
    return found


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_us": statistics.median(ordered) * 1e6,
        "p99_us": ordered[int(len(ordered) * 0.99)] * 1e6,
    }


def proofs(size: int, fetch: Any, count: int) -> dict[str, dict[str, float]]:
    rng = random.Random(1)
    inclusion, consistency = [], []
    for _ in range(count):
        index, old = rng.randrange(size), rng.randrange(1, size)
        started = time.perf_counter()
        TileSource(size, fetch).inclusion_proof(index)
        inclusion.append(time.perf_counter() - started)
        started = time.perf_counter()
        TileSource(size, fetch).consistency_proof(old)
        consistency.append(time.perf_counter() - started)
    return {"inclusion": _percentiles(inclusion), "consistency": _percentiles(consistency)}


def memory_tiles(size: int) -> dict[tuple[int, int], bytes]:
    """Tiles of a tree of `size` random leaves: level 0 random, the levels above computed
    (full tiles only hashed up, as the spec says; the partial ones kept at their width)."""
    tiles: dict[tuple[int, int], bytes] = {}
    level, hashes = 0, size
    below: list[bytes] = []
    while hashes:
        row: list[bytes] = []
        for index in range((hashes + WIDTH - 1) // WIDTH):
            width = min(WIDTH, hashes - index * WIDTH)
            data = (
                os.urandom(width * 32)
                if level == 0
                else b"".join(below[index * WIDTH : index * WIDTH + width])
            )
            tiles[(level, index)] = data
            if width == WIDTH:
                row.append(perfect_root(split_hashes(data)))
        below, level = row, level + 1
        hashes = size >> (HEIGHT * level)
    return tiles


def run(entries_count: int, every: int, proof_entries: int, count: int) -> dict[str, Any]:
    entries = chain(entries_count)
    signed = notes(entries, every)
    result: dict[str, Any] = {"entries": entries_count, "every": every}
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        publisher = TilingPublisher(
            DirectoryPublisher(directory), directory, _Journal(entries), KEY
        )
        started = time.perf_counter()
        for size, note in signed:
            publisher.publish(size, note)
        elapsed = time.perf_counter() - started
        result["publish_ms_per_checkpoint"] = elapsed / len(signed) * 1e3
        result["publish_entries_per_s"] = entries_count / elapsed
        started = time.perf_counter()
        verify_tiles(TileDirectory(directory), KEY, signed[-1][1])
        result["verify_tiles_entries_per_s"] = entries_count / (time.perf_counter() - started)
        lines = [entry_line(entry) for entry in entries]
        started = time.perf_counter()
        verify_export(lines, KEY, [signed[-1][1]])
        result["verify_export_entries_per_s"] = entries_count / (time.perf_counter() - started)
        result["proofs_from_files"] = proofs(entries_count, TileDirectory(directory).fetch, count)
    started = time.perf_counter()
    tiles = memory_tiles(proof_entries)
    result["proof_entries"] = proof_entries
    result["memory_tiles_built_s"] = time.perf_counter() - started
    result["proofs_in_memory"] = proofs(proof_entries, lambda lv, i, _: tiles[(lv, i)], count)
    return result


def markdown(result: dict[str, Any]) -> str:
    rows = [
        "| measure | value |",
        "|---|---|",
        f"| publish {result['entries']:,} entries, a checkpoint every {result['every']:,} "
        f"(tiles, bundles, notes, fsynced) | {result['publish_ms_per_checkpoint']:.1f} ms per "
        f"checkpoint ({result['publish_entries_per_s']:,.0f} entries/s) |",
        f"| `journal verify DIR` (tiles, bundles, entries) | "
        f"{result['verify_tiles_entries_per_s']:,.0f} entries/s |",
        f"| the export verifier on the same entries | "
        f"{result['verify_export_entries_per_s']:,.0f} entries/s |",
    ]
    for where, size in (("files", result["entries"]), ("in memory", result["proof_entries"])):
        key = "proofs_from_files" if where == "files" else "proofs_in_memory"
        for kind in ("inclusion", "consistency"):
            found = result[key][kind]
            rows.append(
                f"| {kind} proof at {size:,}, tiles {where} (cold) | median "
                f"{found['median_us']:.0f} µs, p99 {found['p99_us']:.0f} µs |"
            )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=1000)
    parser.add_argument("--proof-entries", type=int, default=10_000_000)
    parser.add_argument("--proofs", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.entries, args.every, args.proof_entries, args.proofs)
    print(json.dumps(result, indent=2) if args.json else markdown(result))


if __name__ == "__main__":
    main()
