"""What `dossier-vault serve` writes is its owner's alone, whatever the mode of the data
directory an operator made: the index and its WAL, blobs, checkpoints, keys are not
readable by other users of the host (the umask set at serve, vault/cli/server.py, and the
blob store's own modes)."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CLI, PATIENT_INS, free_port
from vault.auth import load_or_create_dev_issuer, mint_token
from vault.client import VaultClient
from vault.domain.model import ActorKind, DocumentCategory, DocumentMetadata

OTHERS = stat.S_IRWXG | stat.S_IRWXO


@pytest.fixture
def open_data_dir(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """`dossier-vault serve` on a data directory made 0755 beforehand."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    data_dir.chmod(0o755)
    target = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "VAULT_DATA_DIR": str(data_dir),
        "VAULT_LISTEN": target,
        "VAULT_CHECKPOINT_EVERY": "1",
    }
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([*CLI, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while "listening on" not in log_path.read_text():
                assert server.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
            yield data_dir, target
        finally:
            server.terminate()
            assert server.wait(timeout=30) == 0


def _readable_by_others(data_dir: Path) -> list[str]:
    return sorted(
        f"{path.relative_to(data_dir)} {stat.filemode(path.stat().st_mode)}"
        for path in data_dir.rglob("*")
        if path.stat().st_mode & OTHERS
    )


def test_files_the_server_creates_are_not_readable_by_other_users(
    open_data_dir: tuple[Path, str],
) -> None:
    data_dir, target = open_data_dir
    issuer = load_or_create_dev_issuer(data_dir)  # the server made it at start
    token = mint_token(issuer, kind=ActorKind.PATIENT, subject=PATIENT_INS, ttl_seconds=60)
    with VaultClient(target, token) as client:
        dossier = client.create_dossier(PATIENT_INS)
        note = DocumentMetadata("t", DocumentCategory.REPORTS, "text/plain")
        client.put_document(dossier.dossier_id, note, b"content")
    deadline = time.monotonic() + 20
    while not list((data_dir / "checkpoints").glob("checkpoint-*")):
        assert time.monotonic() < deadline, "no checkpoint was signed"
        time.sleep(0.2)
    names = {path.name for path in data_dir.rglob("*") if path.is_file()}
    assert {"index.sqlite3", "index.sqlite3-wal", "master-keys.json"} <= names
    assert [p for p in (data_dir / "blobs" / "objects").rglob("*") if p.is_file()]
    assert _readable_by_others(data_dir) == []
