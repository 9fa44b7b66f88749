"""Resumable uploads through the real server (docs/adr/0031), on SQLite and PostgreSQL: a
stream cut mid-upload is parked and a new stream continues it from the acknowledged
offset, storing one version with the whole content's digest; the resume key is bound to
its actor and dossier (another key, actor or dossier is NOT_FOUND, journaled, and leaves
the upload resumable for its owner); a resume at another offset is FAILED_PRECONDITION;
a lapsed lease ends it (row and blob gone); `VaultClient.put_document` resumes by itself
through a proxy that drops the connection. The journal verifies afterwards."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text

from tests.conftest import OTHER_INS, PATIENT_INS, RunningVault
from tests.cutting_proxy import CuttingProxy
from vault import wire
from vault.auth import load_or_create_dev_issuer, mint_token
from vault.client import VaultClient
from vault.config import Config
from vault.domain.model import ActorKind, DocumentCategory, DocumentMetadata
from vault.journal.verify import verify_export
from vault.server.app import BackgroundServer
from vault.sqlstore import make_engine
from vault.v1 import vault_pb2 as pb
from vault.v1.vault_pb2_grpc import DossierVaultStub

CHUNK = 256 * 1024
CONTENT = os.urandom(3 * 1024 * 1024 + 12345)  # more than three segments
LARGE = os.urandom(12 * 1024 * 1024 + 777)  # more than one S3 part
REPORT = DocumentMetadata("Imagerie", DocumentCategory.REPORTS, "application/dicom")
PATIENCE = 10.0  # the most any wait for the server here lasts (never asserted on)


@dataclass
class Served:
    vault: RunningVault
    db_url: str
    dossier: str
    content: bytes = CONTENT
    token: str = ""  # the caller's, if not the patient's (PATIENT_INS)

    def stub(self, channel: grpc.Channel) -> DossierVaultStub:
        return DossierVaultStub(channel)

    def auth(self, subject: str = "") -> tuple[tuple[str, str]]:
        """A patient's token for `subject`, else the caller's (`token`), else the holder's."""
        token = self.token if self.token and not subject else ""
        token = token or self.vault.token(subject=subject or PATIENT_INS)
        return (("authorization", f"Bearer {token}"),)

    def cut_upload(self, key: bytes, chunks: int) -> None:
        """Starts a resumable upload of CONTENT, sends `chunks` chunks, then cancels the
        call (the client side of a cut), and waits until the server parked it."""
        sent = threading.Event()

        def messages() -> Iterator[pb.PutDocumentRequest]:
            header = _header(self.dossier)
            header.resume_key = key
            yield pb.PutDocumentRequest(header=header)
            for start in range(0, chunks * CHUNK, CHUNK):
                yield pb.PutDocumentRequest(chunk=self.content[start : start + CHUNK])
            sent.set()
            time.sleep(PATIENCE)  # never sends the rest: the call is cancelled

        with grpc.insecure_channel(self.vault.server.target) as channel:
            future = self.stub(channel).PutDocument.future(messages(), metadata=self.auth())
            assert sent.wait(PATIENCE)
            _until(lambda: self.attached(channel, key))  # begun: registered, not parked
            future.cancel()
        with grpc.insecure_channel(self.vault.server.target) as channel:
            _until(lambda: self.status(channel, key) is not None)

    def attached(self, channel: grpc.Channel, key: bytes) -> bool:
        """Whether the upload is begun and fed by a stream (UNAVAILABLE), not NOT_FOUND."""
        try:
            return self.status(channel, key) is None
        except grpc.RpcError as error:
            if error.code() is not grpc.StatusCode.NOT_FOUND:  # not begun yet
                raise
            return False

    def status(
        self, channel: grpc.Channel, key: bytes, subject: str = "", dossier: str = ""
    ) -> pb.UploadStatus | None:
        """The upload's status; None while it is attached (UNAVAILABLE)."""
        request = pb.GetUploadStatusRequest(dossier_id=dossier or self.dossier, resume_key=key)
        try:
            return self.stub(channel).GetUploadStatus(
                request, metadata=self.auth(subject), timeout=30
            )
        except grpc.RpcError as error:
            if error.code() is grpc.StatusCode.UNAVAILABLE:
                return None
            raise

    def resume(self, key: bytes, offset: int, subject: str = "", dossier: str = "") -> pb.Document:
        """A stream that continues the upload from `offset` to its end and finishes with
        the whole content's size and digest."""
        header = pb.PutDocumentHeader(dossier_id=dossier or self.dossier)
        header.resume.resume_key, header.resume.offset = key, offset

        def messages() -> Iterator[pb.PutDocumentRequest]:
            yield pb.PutDocumentRequest(header=header)
            for start in range(offset, len(self.content), CHUNK):
                yield pb.PutDocumentRequest(chunk=self.content[start : start + CHUNK])
            finish = pb.PutDocumentFinish(
                size=len(self.content), sha256=hashlib.sha256(self.content).digest()
            )
            yield pb.PutDocumentRequest(finish=finish)

        with grpc.insecure_channel(self.vault.server.target) as channel:
            document: pb.Document = self.stub(channel).PutDocument(
                messages(), metadata=self.auth(subject), timeout=60
            )
            return document

    def offset(self, key: bytes) -> int:
        with grpc.insecure_channel(self.vault.server.target) as channel:
            status = self.status(channel, key)
        assert status is not None
        return status.offset

    def pending_rows(self) -> int:
        engine = make_engine(self.db_url)
        try:
            with engine.connect() as conn:
                found = conn.execute(
                    text("select count(*) from document_versions where status = 'pending'")
                )
                return int(found.scalar() or 0)
        finally:
            engine.dispose()

    def blobs(self) -> int:
        """Objects and writes in progress (temporary files) of the file store."""
        return sum(1 for p in self.vault.config.blob_dir.rglob("*") if p.is_file())

    def documents(self) -> list[tuple[int, bytes]]:
        with self.vault.client() as client:
            return [(d.size, d.sha256) for d in client.iter_documents(self.dossier)]

    def journal(self) -> list[dict[str, object]]:
        """The write entries, after checking that the journal verifies."""
        auditor = mint_token(
            self.vault.issuer, kind=ActorKind.AUDITOR, subject="audit", ttl_seconds=600
        )
        with VaultClient(self.vault.server.target, auditor, timeout=30) as client:
            lines = list(client.export_journal())
        assert verify_export(lines, None).anchored_at_genesis
        entries = [json.loads(line)["entry"] for line in lines if b'"entry_hash"' in line]
        return [e for e in entries if e["action"] == "document.write"]


def _header(dossier: str) -> pb.PutDocumentHeader:
    return pb.PutDocumentHeader(dossier_id=dossier, metadata=wire.metadata_to_proto(REPORT))


def _until(condition: object) -> None:
    """Polls `condition` (a callable) until it holds; fails after PATIENCE."""
    deadline = time.monotonic() + PATIENCE
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the server never got there"
        time.sleep(0.05)


def _code(call: object) -> grpc.StatusCode:
    try:
        call()  # type: ignore[operator]
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()
        return code
    raise AssertionError("the call succeeded")


def _serve(
    db_url: str, data_dir: Path, lease_seconds: float = 120.0, idle_seconds: float = 30.0
) -> Iterator[Served]:
    config = Config(
        listen="127.0.0.1:0",
        data_dir=data_dir,
        database_url=db_url,
        workers=4,
        upload_lease_seconds=lease_seconds,
        stream_idle_seconds=idle_seconds,
    )
    issuer = load_or_create_dev_issuer(config.data_dir)
    server = BackgroundServer(config).start()
    try:
        vault = RunningVault(server, issuer)
        with vault.client() as client:
            dossier = str(client.create_dossier(PATIENT_INS).dossier_id)
        yield Served(vault, db_url, dossier)
    finally:
        server.stop()


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[Served]:
    yield from _serve(db_url, tmp_path / "data")


def test_a_cut_upload_resumes_from_the_acknowledged_offset_into_one_version(
    served: Served,
) -> None:
    key = os.urandom(32)
    served.cut_upload(key, chunks=6)
    offset = served.offset(key)
    assert 0 <= offset <= 6 * CHUNK  # what it took before the cut
    document = served.resume(key, offset)
    assert (document.size, document.sha256) == (len(CONTENT), hashlib.sha256(CONTENT).digest())
    assert document.version == 1
    assert served.documents() == [(len(CONTENT), hashlib.sha256(CONTENT).digest())]
    with served.vault.client() as client:
        stored = client.get_document(served.dossier, document.document_id)
        assert b"".join(stored) == CONTENT
    assert (served.pending_rows(), served.blobs()) == (0, 1)
    entries = served.journal()  # the upload, the status requests, the resume
    assert entries[-1]["decision"] == "allow"
    polls = {(e["decision"], e["reason"]) for e in entries if e["decision"] == "deny"}
    assert polls <= {("deny", "not-found"), ("deny", "failed")}  # before begun, or attached
    allowed = {str(e["documents"]) for e in entries if e["decision"] == "allow"}
    assert allowed == {str([document.document_id])}


def test_a_resume_with_a_wrong_key_another_actor_or_another_dossier_is_not_found_and_journaled(
    served: Served,
) -> None:
    key = os.urandom(32)
    served.cut_upload(key, chunks=4)
    offset = served.offset(key)
    with served.vault.client(served.vault.token(subject=OTHER_INS)) as client:
        other_dossier = str(client.create_dossier(OTHER_INS).dossier_id)
    before = len(served.journal())
    attacks = [
        lambda: served.resume(os.urandom(32), offset),  # a guessed key
        lambda: served.resume(key, offset, subject=OTHER_INS),  # a stolen key, another patient
        lambda: served.resume(key, offset, subject=OTHER_INS, dossier=other_dossier),
        lambda: served.resume(key, offset, dossier=other_dossier),  # the owner, elsewhere
    ]
    for attack in attacks:
        assert _code(attack) is grpc.StatusCode.NOT_FOUND
    with grpc.insecure_channel(served.vault.server.target) as channel:
        peek = lambda: served.status(channel, key, subject=OTHER_INS, dossier=other_dossier)  # noqa: E731
        assert _code(peek) is grpc.StatusCode.NOT_FOUND
    # the attacks took nothing: the owner still resumes, from the same offset
    assert served.resume(key, served.offset(key)).size == len(CONTENT)
    decisions = [(e["decision"], e["reason"]) for e in served.journal()[before:]]
    assert decisions[: len(attacks) + 1] == [("deny", "not-found")] * (len(attacks) + 1)
    assert decisions[-1] == ("allow", "holder")
    assert len(served.documents()) == 1


def test_a_resume_at_another_offset_is_refused_and_the_upload_stays_parked(
    served: Served,
) -> None:
    key = os.urandom(32)
    served.cut_upload(key, chunks=4)
    offset = served.offset(key)
    for wrong in (offset + 1, offset + CHUNK):
        assert _code(lambda: served.resume(key, wrong)) is grpc.StatusCode.FAILED_PRECONDITION  # noqa: B023
    assert served.resume(key, offset).sha256 == hashlib.sha256(CONTENT).digest()
    assert served.pending_rows() == 0


def test_a_resume_is_decided_again_and_refused_once_the_author_lost_access(
    served: Served,
) -> None:
    """A professional's upload is cut; the patient revokes their authorisation; the
    status and the resume are refused (PERMISSION_DENIED, journaled) and the upload
    expires with its lease, never stored."""
    rpps = "10000000017"
    with served.vault.client() as patient:
        patient.authorise(served.dossier, rpps)
    token = served.vault.token(ActorKind.PROFESSIONAL, rpps, profession="physician")
    physician = replace(served, token=token)
    key = os.urandom(32)
    physician.cut_upload(key, chunks=2)
    offset = physician.offset(key)
    with served.vault.client() as patient:
        patient.revoke(served.dossier, rpps)
    with grpc.insecure_channel(served.vault.server.target) as channel:
        peek = lambda: physician.status(channel, key)  # noqa: E731
        assert _code(peek) is grpc.StatusCode.PERMISSION_DENIED
    assert _code(lambda: physician.resume(key, offset)) is grpc.StatusCode.PERMISSION_DENIED
    refusals = [(e["decision"], e["reason"]) for e in served.journal()[-2:]]
    assert refusals == [("deny", "no-authorisation")] * 2
    assert served.documents() == []


@pytest.fixture
def on_s3(s3_vault: tuple[RunningVault, str], db_url: str) -> Served:
    vault, _ = s3_vault
    with vault.client() as client:
        dossier = str(client.create_dossier(PATIENT_INS).dossier_id)
    return Served(vault, db_url, dossier, LARGE)


def test_a_cut_upload_resumes_on_the_s3_store(on_s3: Served) -> None:
    """Cut after more than one S3 part (8 MiB): the parked upload's multipart upload
    waits for the resume, then completes."""
    key = os.urandom(32)
    on_s3.cut_upload(key, chunks=40)
    document = on_s3.resume(key, on_s3.offset(key))
    with on_s3.vault.client() as client:
        assert b"".join(client.get_document(on_s3.dossier, document.document_id)) == LARGE
    assert on_s3.documents() == [(len(LARGE), hashlib.sha256(LARGE).digest())]
    assert on_s3.pending_rows() == 0
    on_s3.journal()


@pytest.fixture
def short_lease(db_url: str, tmp_path: Path) -> Iterator[Served]:
    yield from _serve(db_url, tmp_path / "data", lease_seconds=2.0)


def test_an_upload_is_not_resumed_after_its_lease_and_leaves_nothing(short_lease: Served) -> None:
    served, key = short_lease, os.urandom(32)
    served.cut_upload(key, chunks=2)

    def gone() -> bool:
        with grpc.insecure_channel(served.vault.server.target) as channel:
            try:
                served.status(channel, key)
            except grpc.RpcError as error:
                return error.code() is grpc.StatusCode.NOT_FOUND
        return False

    _until(gone)
    assert _code(lambda: served.resume(key, 2 * CHUNK)) is grpc.StatusCode.NOT_FOUND
    _until(lambda: (served.pending_rows(), served.blobs()) == (0, 0))  # the expiry's abort
    assert served.documents() == []
    served.journal()


@pytest.fixture
def short_idle(db_url: str, tmp_path: Path) -> Iterator[Served]:
    yield from _serve(db_url, tmp_path / "data", idle_seconds=1.0)


def test_a_silent_stream_is_parked_at_the_idle_timeout_and_resumes(short_idle: Served) -> None:
    """A cut the server cannot see (no reset, nothing more arrives): the idle timeout
    ends the stream (DEADLINE_EXCEEDED) and parks the upload."""
    served, key, sent = short_idle, os.urandom(32), threading.Event()

    def messages() -> Iterator[pb.PutDocumentRequest]:
        header = _header(served.dossier)
        header.resume_key = key
        yield pb.PutDocumentRequest(header=header)
        yield pb.PutDocumentRequest(chunk=CONTENT[:CHUNK])
        sent.wait(PATIENCE)  # silent until the server ended the call

    with grpc.insecure_channel(served.vault.server.target) as channel:
        future = served.stub(channel).PutDocument.future(messages(), metadata=served.auth())
        assert _code(future.result) is grpc.StatusCode.DEADLINE_EXCEEDED
        sent.set()
    assert served.offset(key) == CHUNK
    assert served.resume(key, CHUNK).sha256 == hashlib.sha256(CONTENT).digest()


def test_an_upload_that_is_not_resumable_is_aborted_when_cut(served: Served) -> None:
    """No resume key: a cut removes the row and the blob at once, as before."""
    sent = threading.Event()

    def messages() -> Iterator[pb.PutDocumentRequest]:
        yield pb.PutDocumentRequest(header=_header(served.dossier))
        yield pb.PutDocumentRequest(chunk=CONTENT[:CHUNK])
        sent.set()
        time.sleep(PATIENCE)

    with grpc.insecure_channel(served.vault.server.target) as channel:
        future = served.stub(channel).PutDocument.future(messages(), metadata=served.auth())
        assert sent.wait(PATIENCE)
        _until(lambda: served.pending_rows() == 1)
        future.cancel()
    _until(lambda: (served.pending_rows(), served.blobs()) == (0, 0))


def test_the_client_resumes_by_itself_through_a_dropped_connection(
    served: Served, tmp_path: Path
) -> None:
    host, port = served.vault.server.target.rsplit(":", 1)
    source = tmp_path / "scan.bin"
    source.write_bytes(CONTENT)
    begun = lambda: served.pending_rows() == 1  # noqa: E731 (cut once the upload is begun)
    with CuttingProxy(host, int(port), len(CONTENT) // 2, begun) as proxy:
        with VaultClient(proxy.target, served.vault.token(), timeout=60) as client:
            document = client.put_document(served.dossier, REPORT, source, chunk_size=CHUNK)
        assert proxy.cuts == 1
    assert (document.size, document.sha256) == (len(CONTENT), hashlib.sha256(CONTENT).digest())
    assert served.documents() == [(len(CONTENT), hashlib.sha256(CONTENT).digest())]
    assert (served.pending_rows(), served.blobs()) == (0, 1)
    entries = served.journal()
    assert entries[-1]["decision"] == "allow"  # the resume
    waits = {(e["decision"], e["reason"]) for e in entries if e["decision"] == "deny"}
    assert waits <= {("deny", "failed")}  # a status asked before the server saw the cut
