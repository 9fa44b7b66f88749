"""What every fault drill shares: a real `dossier-vault serve` process, traffic from a few
writers that records each call's status, and the audit every drill ends with.

The audit (`audit`) checks, after the fault has passed: every acknowledged write reads
back with its digest; every listed document downloads (none listed without its blob);
`dossier-vault journal verify` passes on an export (no gap, no fork, checkpoints agree);
after a sweep (`dossier-vault gc --grace-seconds 0`) no upload is pending, no blob is
stored that no committed version names and no unfinished write is left.
What it does not: inject faults (each drill module does its own).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text

from tests.conftest import PATIENT_INS, free_port
from vault.auth import load_or_create_dev_issuer, mint_token
from vault.blobstore.file import FileBlobStore
from vault.blobstore.s3.settings import S3Settings
from vault.blobstore.s3.store import S3BlobStore
from vault.client import VaultClient
from vault.crypto.localkeys import LocalKeyFileProvider
from vault.domain.model import ActorKind
from vault.journal.checkpoint import VerifierKey
from vault.sqlstore import make_engine
from vault.v1 import vault_pb2 as pb
from vault.v1 import vault_pb2_grpc

CLI = [sys.executable, "-m", "vault.cli"]
CALL_TIMEOUT = 30.0  # a call still running then is a hang: DEADLINE_EXCEEDED fails a drill
OK = grpc.StatusCode.OK
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


def require(problem: str | None) -> None:
    """A missing prerequisite fails in CI (`CI` set) and skips elsewhere."""
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{problem}: required in CI")
    pytest.skip(problem)


def vault_env(data_dir: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "VAULT_DATA_DIR": str(data_dir),
        "VAULT_LISTEN": f"127.0.0.1:{free_port()}",
        "VAULT_GC_INTERVAL_SECONDS": "0",  # the audit sweeps, once the traffic is over
        "VAULT_UPLOAD_LEASE_SECONDS": "1",
        "VAULT_CHECKPOINT_EVERY": "16",
        "VAULT_WORKERS": "4",
        "VAULT_BLOB_WORKERS": "4",
        **extra,
    }
    if database_url is not None:
        env["VAULT_DATABASE_URL"] = database_url
    return env


class Vault:
    """`dossier-vault serve [args]` in its own process, restartable."""

    def __init__(self, env: dict[str, str], log: Path, *args: str, listening: int = 1) -> None:
        self.env, self.log, self.args, self.listening = env, log, args, listening
        self.target = env["VAULT_LISTEN"]
        self.process: subprocess.Popen[bytes] | None = None
        self._seen = 0

    def start(self) -> Vault:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*CLI, "serve", *self.args], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self._seen += self.listening
        deadline = time.monotonic() + 60
        while self.log.read_text().count("listening on") < self._seen:
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            assert self.process.wait(timeout=60) == 0, self.log.read_text()

    def token(self, kind: ActorKind = ActorKind.PATIENT, subject: str = PATIENT_INS) -> str:
        issuer = load_or_create_dev_issuer(Path(self.env["VAULT_DATA_DIR"]))
        return mint_token(issuer, kind=kind, subject=subject, ttl_seconds=900)

    def stub(self) -> tuple[grpc.Channel, vault_pb2_grpc.DossierVaultStub]:
        """A connection of its own (not gRPC's shared subchannel): processes sharing a
        port each get some."""
        channel = grpc.insecure_channel(self.target, [("grpc.use_local_subchannel_pool", 1)])
        return channel, vault_pb2_grpc.DossierVaultStub(channel)

    def cli(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [*CLI, *args], env=env or self.env, capture_output=True, timeout=120, check=False
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout.decode()


# -- raw calls: the exact status, DEADLINE_EXCEEDED for a hang --------------------------


def _metadata(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


def create_dossier(stub: vault_pb2_grpc.DossierVaultStub, token: str, ins: str) -> str:
    reply = stub.CreateDossier(
        pb.CreateDossierRequest(ins=ins), metadata=_metadata(token), timeout=CALL_TIMEOUT
    )
    return str(reply.dossier_id)


def get_dossier(stub: vault_pb2_grpc.DossierVaultStub, token: str, dossier: str) -> None:
    stub.GetDossier(
        pb.GetDossierRequest(dossier_id=dossier), metadata=_metadata(token), timeout=CALL_TIMEOUT
    )


def put(
    stub: vault_pb2_grpc.DossierVaultStub, token: str, dossier: str, content: bytes
) -> tuple[grpc.StatusCode, tuple[str, int] | None]:
    """PutDocument of `content` in 64 KiB chunks: its status, and (id, version) if OK."""
    header = pb.PutDocumentHeader(
        dossier_id=dossier,
        metadata=pb.DocumentMetadata(
            title="drill", category=pb.DOCUMENT_CATEGORY_REPORTS, media_type="text/plain"
        ),
    )
    chunks = [content[i : i + 65536] for i in range(0, len(content), 65536)]
    finish = pb.PutDocumentFinish(size=len(content), sha256=hashlib.sha256(content).digest())
    messages = [
        pb.PutDocumentRequest(header=header),
        *(pb.PutDocumentRequest(chunk=c) for c in chunks),
        pb.PutDocumentRequest(finish=finish),
    ]
    try:
        reply = stub.PutDocument(iter(messages), metadata=_metadata(token), timeout=CALL_TIMEOUT)
    except grpc.RpcError as error:
        return error.code(), None
    return OK, (reply.document_id, reply.version)


def get(
    stub: vault_pb2_grpc.DossierVaultStub, token: str, dossier: str, document: str, version: int
) -> tuple[grpc.StatusCode, bytes]:
    request = pb.GetDocumentRequest(dossier_id=dossier, document_id=document, version=version)
    data = bytearray()
    try:
        for reply in stub.GetDocument(request, metadata=_metadata(token), timeout=CALL_TIMEOUT):
            data.extend(reply.chunk)
    except grpc.RpcError as error:
        return error.code(), b""
    return OK, bytes(data)


def status(call: Callable[[], object]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()
        return code
    return OK


# -- traffic -------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the vault acknowledged: (dossier, document, version) -> SHA-256, and every
    call's status in order."""

    acknowledged: dict[tuple[str, str, int], bytes] = field(default_factory=dict)
    statuses: list[grpc.StatusCode] = field(default_factory=list)
    dossiers: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, code: grpc.StatusCode, dossier: str = "", written: object = None) -> None:
        with self.lock:
            self.statuses.append(code)
            if isinstance(written, tuple):
                document, version, content = written
                self.acknowledged[(dossier, document, version)] = hashlib.sha256(content).digest()

    def count(self, code: grpc.StatusCode, since: int = 0) -> int:
        with self.lock:
            return self.statuses[since:].count(code)

    def mark(self) -> int:
        with self.lock:
            return len(self.statuses)

    def tally(self) -> Counter[str]:
        with self.lock:
            return Counter(code.name for code in self.statuses)


class Traffic:
    """`writers` threads, each with its own connection and dossier, putting small
    documents (and reading back every other one) until stopped."""

    def __init__(self, vault: Vault, ledger: Ledger, writers: int = 4, size: int = 2048) -> None:
        self._vault, self.ledger, self._size = vault, ledger, size
        self._stop = threading.Event()
        token = vault.token()
        channel, stub = vault.stub()
        with channel:
            dossier = create_dossier(stub, token, PATIENT_INS)
        ledger.dossiers.add(dossier)
        self._threads = [
            threading.Thread(target=self._write, args=(token, dossier, n), daemon=True)
            for n in range(writers)
        ]
        self.errors: list[BaseException] = []

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2 * CALL_TIMEOUT)
        assert not self.errors, self.errors

    def _write(self, token: str, dossier: str, number: int) -> None:
        channel, stub = self._vault.stub()
        try:
            n = 0
            while not self._stop.is_set():
                content = f"writer {number} call {n} ".encode() + os.urandom(self._size)
                code, stored = put(stub, token, dossier, content)
                self.ledger.record(code, dossier, stored and (*stored, content))
                if stored is not None and n % 2:
                    got, data = get(stub, token, dossier, *stored)
                    self.ledger.record(got)
                    assert got is not OK or data == content
                n += 1
                if code is not OK:
                    time.sleep(0.05)  # as a client backs off
        except BaseException as error:  # reported by __exit__
            self.errors.append(error)
        finally:
            channel.close()

    def wait_until(self, condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, f"{what}: {self.ledger.tally()}"
            time.sleep(0.05)


# -- the audit -----------------------------------------------------------------------


def rows(env: dict[str, str], query: str) -> list[tuple[object, ...]]:
    url = env.get("VAULT_DATABASE_URL") or f"sqlite:///{env['VAULT_DATA_DIR']}/index.sqlite3"
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(query))]
    finally:
        engine.dispose()


def _store(env: dict[str, str]) -> FileBlobStore | S3BlobStore:
    if env.get("VAULT_S3_BUCKET"):
        return S3BlobStore(S3Settings.from_env(env))
    return FileBlobStore(Path(env["VAULT_DATA_DIR"]) / "blobs")


def _readable(vault: Vault, ledger: Ledger) -> None:
    token = vault.token()
    channel, stub = vault.stub()
    with channel:
        for (dossier, document, version), digest in ledger.acknowledged.items():
            code, data = get(stub, token, dossier, document, version)
            assert (code, hashlib.sha256(data).digest()) == (OK, digest), (document, version)
        for dossier in ledger.dossiers:
            listed = set(_listed(stub, token, dossier))
            read = {(d, v) for (o, d, v) in ledger.acknowledged if o == dossier}
            assert {d for d, _ in listed} >= {d for d, _ in read}
            for document, version in listed - read:  # listed, never acknowledged: whole too
                assert get(stub, token, dossier, document, version)[0] is OK, document


def _listed(
    stub: vault_pb2_grpc.DossierVaultStub, token: str, dossier: str
) -> Iterator[tuple[str, int]]:
    page_token = ""
    while True:
        reply = stub.ListDocuments(
            pb.ListDocumentsRequest(dossier_id=dossier, page_size=100, page_token=page_token),
            metadata=_metadata(token),
            timeout=CALL_TIMEOUT,
        )
        yield from ((d.document_id, d.version) for d in reply.documents)
        if not reply.next_page_token:
            return
        page_token = reply.next_page_token


def verifier_key(vault: Vault) -> str:
    """The checkpoint verifier key, from the key file (`journal public-key` prints the
    same; a drill on an HSM runs that command instead)."""
    path = Path(vault.env["VAULT_DATA_DIR"]) / "master-keys.json"
    signer = LocalKeyFileProvider(path).checkpoint_signer()
    origin = vault.env.get("VAULT_JOURNAL_ORIGIN", "dossier-vault/journal")
    return VerifierKey(origin, signer.public_key).encode()


def export_journal(vault: Vault, export: Path) -> None:
    """What `journal export` writes, through an auditor's client."""
    auditor = vault.token(ActorKind.AUDITOR, "audit-1")
    with VaultClient(vault.target, auditor) as client, export.open("wb") as out:
        for line in client.export_journal():
            out.write(line)


def verify_journal(vault: Vault, export: Path, key: str | None = None) -> str:
    """`journal verify --require-checkpoint` on an export, against the published
    checkpoints, then of the published tiles (ADR 0043: whatever the fault, they hold the
    signed tree and every entry up to the last checkpoint); returns the export's output."""
    key_file = export.with_suffix(".vkey")
    key_file.write_text(key or verifier_key(vault))
    checkpoints = Path(vault.env["VAULT_DATA_DIR"]) / "checkpoints"
    output = vault.cli(
        "journal",
        "verify",
        str(export),
        "--key-file",
        str(key_file),
        "--checkpoints",
        str(checkpoints),
        "--require-checkpoint",
    )
    tiles = ("journal", "verify", str(checkpoints), "--key-file", str(key_file))
    vault.cli(*tiles, "--expect-complete", "--require-checkpoint")
    return output


def sweep_leaves_nothing(vault: Vault) -> dict[str, int]:
    """`gc --grace-seconds 0`, then: no pending version, the stored blobs are exactly
    the committed versions', no unfinished write."""
    report: dict[str, int] = json.loads(vault.cli("gc", "--grace-seconds", "0", "--json"))
    env = vault.env
    assert rows(env, "select count(*) from document_versions where status='pending'") == [(0,)]
    query = "select blob_key from document_versions where status='committed'"
    committed = {row[0] for row in rows(env, query)}
    store = _store(env)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert set(store.stored_keys(older_than=tomorrow)) == committed  # no orphan, none missing
    assert store.sweep_incomplete(tomorrow, dry_run=True) == 0
    return report


def audit(vault: Vault, ledger: Ledger, tmp_path: Path, key: str | None = None) -> None:
    """Every acknowledged write readable, every listed document whole, nothing left
    behind after a sweep; then the vault stops (signing a last checkpoint) and the
    journal export verifies: one chain from entry 1, no gap, checkpoints that agree."""
    assert ledger.acknowledged, "the drill acknowledged no write"
    _readable(vault, ledger)
    export = tmp_path / "journal.jsonl"
    export_journal(vault, export)
    vault.stop()
    sweep_leaves_nothing(vault)
    verify_journal(vault, export, key)
