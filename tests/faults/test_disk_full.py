"""Drill: the file blob store's disk fills up.

The blob directory is a 2 MiB tmpfs mounted for the drill (`mount -t tmpfs -o size=2m`:
needs root, or CAP_SYS_ADMIN; missing, the drill fails in CI and is skipped elsewhere).
After a few documents are stored, a ballast file takes every free byte: uploads then
fail RESOURCE_EXHAUSTED or UNAVAILABLE (the disk, not the caller) with nothing
half-written (no temporary file, no pending version, no object beyond the committed
ones), reads keep working; the ballast removed, uploads work again, with no restart of
the vault. Then the audit.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.conftest import PATIENT_INS
from tests.faults.harness import (
    OK,
    Ledger,
    Vault,
    audit,
    create_dossier,
    get,
    put,
    require,
    rows,
    vault_env,
)

DOCUMENT = 64 * 1024
PENDING = "select count(*) from document_versions where status='pending'"
FULL = {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, mounted at tmp_path/var/blobs for the drill."""
    mount_point = tmp_path / "var" / "blobs"
    mount_point.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        require(f"cannot mount a 2 MiB tmpfs ({mounted.stderr.strip()})")
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(path: Path) -> None:
    """Writes `path` until the file system has no block left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                os.write(fd, b"\0" * 4096)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                break
    finally:
        os.close(fd)
    assert os.statvfs(path).f_bavail == 0


def _files(directory: Path) -> set[Path]:
    return {p for p in directory.rglob("*") if p.is_file()}


def test_a_full_disk_refuses_uploads_whole_keeps_reads_and_recovers_when_freed(
    small_disk: Path, tmp_path: Path
) -> None:
    vault = Vault(vault_env(tmp_path / "var"), tmp_path / "server.log").start()
    ledger = Ledger()
    try:
        token = vault.token()
        channel, stub = vault.stub()
        with channel:
            dossier = create_dossier(stub, token, PATIENT_INS)
            ledger.dossiers.add(dossier)

            def upload() -> grpc.StatusCode:
                content = os.urandom(DOCUMENT)
                code, stored = put(stub, token, dossier, content)
                ledger.record(code, dossier, stored and (*stored, content))
                return code

            assert [upload() for _ in range(4)] == [OK] * 4
            stored = _files(small_disk / "objects")
            _fill(small_disk / "ballast")

            refused = [upload() for _ in range(4)]
            assert set(refused) <= FULL, refused
            assert list((small_disk / "tmp").iterdir()) == []  # nothing half-written
            assert _files(small_disk / "objects") == stored
            assert rows(vault.env, PENDING) == [(0,)]
            for (_, document, version), _digest in list(ledger.acknowledged.items()):
                assert get(stub, token, dossier, document, version)[0] is OK  # reads go on

            (small_disk / "ballast").unlink()
            assert [upload() for _ in range(4)] == [OK] * 4  # the same process, no restart
        audit(vault, ledger, tmp_path)
    finally:
        vault.stop()
