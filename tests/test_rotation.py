"""Master key rotation: online, resumable, and retiring the old version shreds backups."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import PATIENT_INS, run
from tests.index.test_sql import add_dossier
from vault.crypto import sealed
from vault.crypto.localkeys import (
    LocalKeyFileProvider,
    add_master_version,
    create_key_file,
    retire_master_version,
)
from vault.errors import FailedPreconditionError
from vault.index.base import DossierKeyRecord
from vault.index.sql import SqlIndex
from vault.rotation import retire_allowed, rewrap_all
from vault.sqlstore import make_engine


def _dossier_keys(index: SqlIndex, keys: LocalKeyFileProvider, count: int) -> dict[str, bytes]:
    plain = {}
    for n in range(count):
        record = add_dossier(index, bytes([n]) * 32)
        key = os.urandom(32)
        context = sealed.dossier_key_context(record.dossier_id, 1)
        index.rewrap_dossier_keys(
            [(index.dossier_key(record.dossier_id, 1), keys.wrap(key, context))]
        )
        plain[str(record.dossier_id)] = key
    return plain


def _unwrapped(index: SqlIndex, keys: LocalKeyFileProvider, dossier: str) -> bytes:
    record = next(r for r in _all_keys(index) if str(r.dossier_id) == dossier)
    context = sealed.dossier_key_context(record.dossier_id, record.version)
    return keys.unwrap(record.wrapped, context)


def _all_keys(index: SqlIndex) -> list[DossierKeyRecord]:
    return index.dossier_keys_not_under(-1, 10_000)


@pytest.fixture
def setup(db_url: str, tmp_path: Path) -> tuple[SqlIndex, LocalKeyFileProvider, Path]:
    path = tmp_path / "keys.json"
    create_key_file(path)
    index = SqlIndex(make_engine(db_url))
    index.create_schema()
    return index, LocalKeyFileProvider(path), path


def test_rotation_rewraps_every_dossier_key_and_keeps_its_value(
    setup: tuple[SqlIndex, LocalKeyFileProvider, Path],
) -> None:
    index, keys, path = setup
    plain = _dossier_keys(index, keys, 7)
    assert add_master_version(path) == 2
    report = rewrap_all(index, keys, batch=3)
    assert (report.master_version, report.rewrapped, report.remaining) == (2, 7, 0)
    assert index.master_version_counts() == {2: 7}
    assert all(_unwrapped(index, keys, d) == key for d, key in plain.items())


def test_a_rotation_killed_midway_is_finished_by_the_next_run(
    setup: tuple[SqlIndex, LocalKeyFileProvider, Path],
) -> None:
    index, keys, path = setup
    plain = _dossier_keys(index, keys, 5)
    add_master_version(path)

    def killed(done: int) -> None:
        raise KeyboardInterrupt  # as if the process died after its first batch

    with pytest.raises(KeyboardInterrupt):
        rewrap_all(index, keys, on_batch=killed, batch=2)
    assert index.master_version_counts() == {1: 3, 2: 2}
    assert rewrap_all(index, keys, batch=2).rewrapped == 3
    assert all(_unwrapped(index, keys, d) == key for d, key in plain.items())


def test_retiring_is_refused_while_the_version_still_wraps_keys(
    setup: tuple[SqlIndex, LocalKeyFileProvider, Path],
) -> None:
    index, keys, path = setup
    _dossier_keys(index, keys, 2)
    with pytest.raises(FailedPreconditionError, match="current"):
        retire_allowed(index, keys, 1)
    add_master_version(path)
    with pytest.raises(FailedPreconditionError, match="still wraps 2"):
        retire_allowed(index, keys, 1)


def test_a_database_copy_from_before_the_rotation_no_longer_opens_once_retired(
    setup: tuple[SqlIndex, LocalKeyFileProvider, Path], tmp_path: Path
) -> None:
    index, keys, path = setup
    dossier, key = next(iter(_dossier_keys(index, keys, 1).items()))
    backup = _all_keys(index)  # what a backup of the index holds: wraps under version 1
    add_master_version(path)
    rewrap_all(index, keys)
    retire_allowed(index, keys, 1)
    retire_master_version(path, 1)
    keys.refresh()
    assert _unwrapped(index, keys, dossier) == key  # the live index still opens
    old = backup[0]
    with pytest.raises(FailedPreconditionError, match="not available"):
        keys.unwrap(old.wrapped, sealed.dossier_key_context(old.dossier_id, old.version))


def test_the_current_version_cannot_be_retired_from_the_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    create_key_file(path)
    with pytest.raises(FailedPreconditionError):
        retire_master_version(path, 1)


def test_online_rotation_through_the_cli_while_a_server_serves(
    served: dict[str, str], tmp_path: Path
) -> None:
    env = dict(served)
    env["VAULT_TOKEN"] = (
        run(env, "dev-token", "--kind", "patient", "--subject", PATIENT_INS).stdout.decode().strip()
    )
    dossier = run(env, "dossier", "create", "--ins", PATIENT_INS, "-q").stdout.decode().strip()
    source = tmp_path / "scan.bin"
    source.write_bytes(os.urandom(100_000))
    document = (
        run(
            env,
            "doc",
            "put",
            "--dossier",
            dossier,
            "--title",
            "t",
            "--category",
            "imaging",
            str(source),
            "-q",
        )
        .stdout.decode()
        .strip()
    )

    rotated = run(env, "keys", "rotate-master")
    assert rotated.returncode == 0, rotated.stderr
    assert b"new master key version: 2" in rotated.stdout
    assert b"safe to retire: master key version(s) 1" in rotated.stdout
    retired = run(env, "keys", "retire-master-version", "1")
    assert retired.returncode == 0, retired.stderr

    copy = tmp_path / "copy.bin"  # the running server learns of version 2 by itself
    got = run(env, "doc", "get", "--dossier", dossier, "--document", document, "-o", str(copy))
    assert got.returncode == 0, got.stderr
    assert copy.read_bytes() == source.read_bytes()
    status = run(env, "keys", "status", "--with-index")
    assert b"dossier keys under master version 2: 1" in status.stdout


def test_cli_retire_refuses_a_version_still_in_use(
    served: dict[str, str],
) -> None:
    env = dict(served)
    env["VAULT_TOKEN"] = (
        run(env, "dev-token", "--kind", "patient", "--subject", PATIENT_INS).stdout.decode().strip()
    )
    run(env, "dossier", "create", "--ins", PATIENT_INS)
    key_file = Path(env["VAULT_DATA_DIR"]) / "master-keys.json"
    add_master_version(key_file)
    refused = run(env, "keys", "retire-master-version", "1")
    assert refused.returncode == FailedPreconditionError.exit_code
    assert b"still wraps 1" in refused.stderr
