"""Two server processes on one PostgreSQL database write the same dossier at once: no
acknowledged write is lost, and each document's version numbers stay unique and gapless.

The processes share nothing but the database and the data directory (blobs, keys), as
two replicas behind a load balancer do. Writers replace one document from the version
they last read and retry on ABORTED; others add new documents meanwhile.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CLI, PATIENT_INS, free_port
from vault.auth import load_or_create_dev_issuer, mint_token
from vault.client import VaultClient
from vault.domain.model import (
    ActorKind,
    DocumentCategory,
    DocumentMetadata,
    DocumentQuery,
    Replacement,
)
from vault.errors import ConflictError

NOTE = DocumentMetadata("Note", DocumentCategory.TREATMENTS_AND_CARE, "text/plain")
WRITERS_PER_SERVER = 4
REPLACEMENTS_PER_WRITER = 5
NEW_DOCUMENTS_PER_WRITER = 3


def _serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen([*CLI, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
    while "listening on" not in log.read_text():
        assert process.poll() is None, log.read_text()
        threading.Event().wait(0.05)
    return process


@pytest.fixture
def two_servers(postgres_url: str, tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    """Two `dossier-vault serve` processes on one database; yields their targets and a
    patient token."""
    data_dir = tmp_path / "var"
    processes, targets = [], []
    try:
        for name in ("a", "b"):
            target = f"127.0.0.1:{free_port()}"
            env = {
                **os.environ,
                "VAULT_DATA_DIR": str(data_dir),
                "VAULT_DATABASE_URL": postgres_url,
                "VAULT_LISTEN": target,
                # enough threads to race, few enough connections (two pools of up to
                # 20 per server) to leave the shared test server's 100 to other tests
                "VAULT_WORKERS": "4",
            }
            processes.append(_serve(env, tmp_path / f"server-{name}.log"))
            targets.append(target)
        issuer = load_or_create_dev_issuer(data_dir)
        yield (
            targets,
            mint_token(issuer, kind=ActorKind.PATIENT, subject=PATIENT_INS, ttl_seconds=600),
        )
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def test_two_servers_writing_one_dossier_lose_no_write_and_no_version(
    two_servers: tuple[list[str], str],
) -> None:
    targets, token = two_servers
    with VaultClient(targets[0], token) as client:
        dossier = client.create_dossier(PATIENT_INS).dossier_id
        first = client.put_document(dossier, NOTE, b"version 1")
    acknowledged: dict[tuple[str, int], bytes] = {(str(first.document_id), 1): b"version 1"}
    conflicts = 0
    lock = threading.Lock()
    failures: list[BaseException] = []

    def writer(number: int) -> None:
        nonlocal conflicts
        with VaultClient(targets[number % 2], token) as client:
            for n in range(NEW_DOCUMENTS_PER_WRITER):
                content = f"writer {number} new {n}".encode()
                stored = client.put_document(dossier, NOTE, content)
                with lock:
                    acknowledged[(str(stored.document_id), stored.version)] = content
            done = 0
            while done < REPLACEMENTS_PER_WRITER:
                history = DocumentQuery(document_id=first.document_id)
                latest = client.list_documents(dossier, history, page_size=1).documents[0]
                content = f"writer {number} replacement {done}".encode()
                replaces = Replacement(str(first.document_id), latest.version)
                try:
                    stored = client.put_document(dossier, NOTE, content, replaces=replaces)
                except ConflictError:
                    with lock:
                        conflicts += 1
                    continue
                with lock:
                    acknowledged[(str(stored.document_id), stored.version)] = content
                done += 1

    def guarded(number: int) -> None:
        try:
            writer(number)
        except BaseException as error:  # reported below, with the thread's traceback
            failures.append(error)
            raise

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(2 * WRITERS_PER_SERVER)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert conflicts > 0  # the writers really raced

    writers = 2 * WRITERS_PER_SERVER
    with VaultClient(targets[1], token) as client:
        versions = [
            d.version
            for d in client.iter_documents(dossier, DocumentQuery(document_id=first.document_id))
        ]
        assert versions == list(range(1 + writers * REPLACEMENTS_PER_WRITER, 0, -1))
        listed = list(client.iter_documents(dossier))
        assert len(listed) == 1 + writers * NEW_DOCUMENTS_PER_WRITER
        for (document_id, version), content in acknowledged.items():
            download = client.get_document(dossier, document_id, version)
            assert hashlib.sha256(b"".join(download)).digest() == hashlib.sha256(content).digest()
    assert len(acknowledged) == len(versions) + len(listed) - 1
