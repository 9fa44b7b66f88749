"""Key rotation: master keys (online, resumable; retiring a version shreds old backups)
and dossier keys (documents re-encrypted, the old key destroyed), and crypto-shredding."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import PATIENT_INS, RunningVault, run
from tests.index.test_sql import add_dossier
from tests.server.test_grpc import REPORT
from tests.test_sweeper import LaterClock
from vault.blobstore.file import FileBlobStore, _FileWriter
from vault.crypto import sealed
from vault.crypto.localkeys import (
    LocalKeyFileProvider,
    add_master_version,
    create_key_file,
    retire_master_version,
)
from vault.errors import FailedPreconditionError, IntegrityError
from vault.index.base import DossierKeyRecord
from vault.index.sql import SqlIndex
from vault.rotation import retire_allowed, rewrap_all, rotate_dossier_key, shred_dossier_keys
from vault.sqlstore import make_engine
from vault.sweeper import Sweeper


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
    source = tmp_path / "scan.png"
    source.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(100_000))  # doc put checks the signature
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


# -- dossier keys ------------------------------------------------------------------------


def _parts(vault: RunningVault) -> tuple[SqlIndex, FileBlobStore, LocalKeyFileProvider]:
    index = SqlIndex(make_engine(vault.config.index_url))
    return (
        index,
        FileBlobStore(vault.config.blob_dir),
        LocalKeyFileProvider(vault.config.dev_master_key_file),
    )


def _blob_keys(vault: RunningVault) -> set[str]:
    return {p.name for p in (vault.config.blob_dir / "objects").rglob("*") if p.is_file()}


def test_dossier_key_rotation_reencrypts_every_document_and_destroys_the_old_key(
    running_vault: RunningVault,
) -> None:
    contents = [os.urandom(10), os.urandom(3 * 1024 * 1024 + 1)]
    with running_vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        stored = [client.put_document(dossier.dossier_id, REPORT, c) for c in contents]
    before = _blob_keys(running_vault)
    index, blobs, keys = _parts(running_vault)
    report = rotate_dossier_key(index, blobs, keys, dossier.dossier_id)
    assert (report.key_version, report.reencrypted, report.destroyed_key_versions) == (2, 2, 1)
    Sweeper(index, blobs, LaterClock(timedelta(hours=2))).sweep(timedelta(hours=1))
    after = _blob_keys(running_vault)  # new blobs; the old ones went to the sweeper
    assert after.isdisjoint(before)
    assert len(after) == 2
    with pytest.raises(IntegrityError):
        index.dossier_key(dossier.dossier_id, 1)  # the old key is gone
    with running_vault.client() as client:
        for document, content in zip(stored, contents, strict=True):
            assert (
                b"".join(client.get_document(dossier.dossier_id, document.document_id)) == content
            )
        later = client.put_document(dossier.dossier_id, REPORT, b"after")
    assert index.version(dossier.dossier_id, later.document_id, None).dossier_key_version == 2  # type: ignore[union-attr]


def test_a_dossier_key_rotation_killed_midway_is_finished_by_the_next_run(
    running_vault: RunningVault,
) -> None:
    with running_vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        for n in range(3):
            client.put_document(dossier.dossier_id, REPORT, bytes([n]) * 100)
    index, blobs, keys = _parts(running_vault)

    class Dying(FileBlobStore):
        creates = 0

        def create(self, key: str) -> _FileWriter:
            Dying.creates += 1
            if Dying.creates == 2:
                raise KeyboardInterrupt  # killed after one document was re-encrypted
            return super().create(key)

    with pytest.raises(KeyboardInterrupt):
        rotate_dossier_key(index, Dying(running_vault.config.blob_dir), keys, dossier.dossier_id)
    report = rotate_dossier_key(index, blobs, keys, dossier.dossier_id)
    assert (report.key_version, report.destroyed_key_versions) == (2, 1)
    Sweeper(index, blobs, LaterClock(timedelta(hours=2))).sweep(timedelta(hours=1))
    with running_vault.client() as client:
        listed = list(client.iter_documents(dossier.dossier_id))
        assert sorted(
            b"".join(client.get_document(dossier.dossier_id, d.document_id)) for d in listed
        ) == [bytes([n]) * 100 for n in range(3)]
    assert len(_blob_keys(running_vault)) == 3  # no orphan left after the sweep


def test_shredded_dossier_keys_leave_nothing_that_decrypts(
    running_vault: RunningVault,
) -> None:
    with running_vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        stored = client.put_document(dossier.dossier_id, REPORT, b"secret results")
    index = _parts(running_vault)[0]
    record = index.version(dossier.dossier_id, stored.document_id, None)
    assert record is not None
    assert shred_dossier_keys(index, dossier.dossier_id) == 1
    with running_vault.client() as client, pytest.raises(IntegrityError):
        b"".join(client.get_document(dossier.dossier_id, stored.document_id))
    # nothing the vault still holds opens it: the blob needs the document key, which
    # needs the dossier key, of which no version remains
    with pytest.raises(IntegrityError):
        index.dossier_key(dossier.dossier_id, record.dossier_key_version)
    assert record.blob_key in _blob_keys(running_vault)  # the blob alone is ciphertext
