"""Master key rotation benchmark: dossier keys rewrapped per second.

    python -m bench.bench_rotation [--keys 100000] [--hsm] [--json]

Fills an index (SQLite file, and PostgreSQL at `VAULT_BENCH_POSTGRES_URL` in a fresh
schema) with N dossier keys wrapped by master version 1 of a local key file, adds
version 2, and times `vault.rotation.rewrap_all` (unwrap under v1, wrap under v2, written
back in batches). With `--hsm`, the same with the PKCS#11 provider on a SoftHSM2 token
that tools/softhsm_setup.sh creates in a temporary directory (needs the softhsm2
package): every unwrap and wrap then runs inside the token. Not a test: run on demand.
Goal from the issue: at least 20,000 rewraps per second with the local provider.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import secrets
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert

from bench.bench_journal import postgres_schema
from vault.crypto import sealed
from vault.crypto.keyprovider import KeyProvider
from vault.crypto.localkeys import LocalKeyFileProvider, add_master_version, create_key_file
from vault.crypto.pkcs11 import admin as pkcs11_admin
from vault.crypto.pkcs11.provider import Pkcs11KeyProvider
from vault.crypto.pkcs11.settings import Pkcs11Settings
from vault.domain.ids import new_id
from vault.index.schema import DossierKeyRow, DossierRow
from vault.index.sql import SqlIndex
from vault.rotation import rewrap_all
from vault.sqlstore import make_engine, writing

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
SOFTHSM_SETUP = Path(__file__).resolve().parents[1] / "tools" / "softhsm_setup.sh"


def fill(index_url: str, keys: KeyProvider, count: int) -> SqlIndex:
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


def measure(
    index_url: str, keys: KeyProvider, add_version: Callable[[], object], count: int
) -> float:
    index = fill(index_url, keys, count)
    add_version()
    started = time.monotonic()
    report = rewrap_all(index, keys)
    elapsed = time.monotonic() - started
    index.engine.dispose()
    assert report.rewrapped == count
    assert report.remaining == 0
    return count / elapsed


def local_provider(tmp: Path, name: str) -> tuple[KeyProvider, Callable[[], object]]:
    key_file = tmp / f"{name}-keys.json"
    create_key_file(key_file)
    return LocalKeyFileProvider(key_file), functools.partial(add_master_version, key_file)


def softhsm_settings(tmp: Path) -> Pkcs11Settings:
    """A fresh SoftHSM2 token under `tmp`, found through SOFTHSM2_CONF (set here, before
    anything loads the module)."""
    subprocess.run(["bash", str(SOFTHSM_SETUP), str(tmp)], check=True, capture_output=True)
    os.environ["SOFTHSM2_CONF"] = str(tmp / "softhsm2.conf")
    return Pkcs11Settings(
        module=SOFTHSM_MODULE,
        token_label="dossier-vault-test",
        pin="5678",  # tools/softhsm_setup.sh's test PIN
    )


def hsm_provider(settings: Pkcs11Settings, name: str) -> tuple[KeyProvider, Callable[[], object]]:
    settings = dataclasses.replace(settings, key_label_prefix=f"bench-{name}")
    pkcs11_admin.provision(settings)
    return Pkcs11KeyProvider(settings), functools.partial(pkcs11_admin.add_master_version, settings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--hsm", action="store_true", help="also the PKCS#11 provider")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="vault-bench-rotation-") as tmp:
        providers = {"local key file": functools.partial(local_provider, Path(tmp))}
        if args.hsm:
            settings = softhsm_settings(Path(tmp) / "hsm")
            providers["PKCS#11 (SoftHSM2)"] = functools.partial(hsm_provider, settings)
        for provider, make in providers.items():
            for backend in ("sqlite", "postgresql"):
                keys, add_version = make(f"{len(results)}-{backend}")
                if backend == "sqlite":
                    url = f"sqlite:///{tmp}/index-{secrets.token_hex(4)}.db"
                    rate = measure(url, keys, add_version, args.keys)
                else:
                    url, drop = postgres_schema()
                    try:
                        rate = measure(url, keys, add_version, args.keys)
                    finally:
                        drop()
                results.setdefault(provider, {})[backend] = rate
    if args.json:
        print(json.dumps({"keys": args.keys, "rewraps_per_s": results}))
        return 0
    print("| provider | index | dossier keys | rewraps/s |")
    print("|---|---|---:|---:|")
    for provider, rates in results.items():
        for backend, rate in rates.items():
            print(f"| {provider} | {backend} | {args.keys:,} | {rate:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
