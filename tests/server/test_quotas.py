"""Quotas through the real server, on SQLite and PostgreSQL (1 MiB a document, 3 MiB a
dossier here): a stream past the document quota is cut as it crosses it, before the
client sent the rest; a full dossier refuses a new document at its header; a document
that does not fit is refused at its finish; a replaced version's bytes stop counting;
concurrent uploads at the edge cannot together pass the dossier quota. Each refusal is
RESOURCE_EXHAUSTED with its reason, journaled, and keeps nothing (no pending row, no
blob)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import text

from tests.conftest import PATIENT_INS, RunningVault
from vault import wire
from vault.auth import load_or_create_dev_issuer
from vault.config import Config
from vault.domain.model import ActorKind, DocumentCategory, DocumentMetadata, Replacement
from vault.errors import ResourceExhaustedError
from vault.server.app import BackgroundServer
from vault.sqlstore import make_engine
from vault.v1 import vault_pb2 as pb
from vault.v1.vault_pb2_grpc import DossierVaultStub

MIB = 1 << 20
CHUNK = 256 * 1024
REPORT = DocumentMetadata("Imagerie", DocumentCategory.REPORTS, "application/dicom")


@dataclass
class Quoted:
    vault: RunningVault
    db_url: str
    dossier: str

    def stub_call(self, messages: Iterator[pb.PutDocumentRequest]) -> pb.Document | grpc.RpcError:
        token = self.vault.token()
        with grpc.insecure_channel(self.vault.server.target) as channel:
            try:
                return DossierVaultStub(channel).PutDocument(
                    messages, metadata=(("authorization", f"Bearer {token}"),), timeout=60
                )
            except grpc.RpcError as error:
                return error

    def put(self, size: int, replaces: Replacement | None = None) -> pb.Document | grpc.RpcError:
        return self.stub_call(_stream(self.dossier, b"\x42" * size, replaces))

    def header_only(
        self, declared: int, replaces: Replacement | None = None
    ) -> pb.Document | grpc.RpcError:
        """A header declaring `declared` bytes, then nothing: no chunk, no finish."""
        return self.stub_call(iter([next(_stream(self.dossier, b"", replaces, declared))]))

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
        return sum(1 for p in self.vault.config.blob_dir.rglob("*") if p.is_file())

    def write_refusals(self) -> list[str]:
        return [reason for decision, reason in self.write_entries() if decision == "deny"]

    def write_entries(self) -> list[tuple[str, str]]:
        """The decision and reason of each `document.write` entry in the journal."""
        token = self.vault.token(ActorKind.AUDITOR, "audit")
        with self.vault.client(token) as client:
            records = [json.loads(line) for line in client.export_journal()]
        entries = [r["entry"] for r in records if "entry" in r]
        return [(e["decision"], e["reason"]) for e in entries if e["action"] == "document.write"]

    def live_sizes(self) -> list[int]:
        with self.vault.client() as client:
            return sorted(d.size for d in client.iter_documents(self.dossier))


def _stream(
    dossier: str,
    content: bytes,
    replaces: Replacement | None = None,
    declared: int | None = None,
) -> Iterator[pb.PutDocumentRequest]:
    header = pb.PutDocumentHeader(dossier_id=dossier, metadata=wire.metadata_to_proto(REPORT))
    if replaces is not None:
        header.replaces.CopyFrom(wire.replacement_to_proto(replaces))
    if declared is not None:
        header.declared_size = declared
    yield pb.PutDocumentRequest(header=header)
    for start in range(0, len(content), CHUNK):
        yield pb.PutDocumentRequest(chunk=content[start : start + CHUNK])
    finish = pb.PutDocumentFinish(size=len(content), sha256=hashlib.sha256(content).digest())
    yield pb.PutDocumentRequest(finish=finish)


def _reason(error: pb.Document | grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    assert isinstance(error, grpc.RpcError), "the upload was stored"
    assert isinstance(error, grpc.Call)
    status = rpc_status.from_call(error)
    assert status is not None
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            assert "dossier" not in error.details() or PATIENT_INS not in error.details()
            return error.code(), info.reason
    raise AssertionError("no ErrorInfo")


def _stored(outcome: pb.Document | grpc.RpcError) -> pb.Document:
    assert isinstance(outcome, pb.Document), outcome
    return outcome


@pytest.fixture
def quoted(db_url: str, tmp_path: Path) -> Iterator[Quoted]:
    config = Config(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        database_url=db_url,
        workers=4,
        max_document_mib=1.0,
        max_dossier_gib=3 / 1024,
    )
    issuer = load_or_create_dev_issuer(config.data_dir)
    server = BackgroundServer(config).start()
    try:
        vault = RunningVault(server, issuer)
        with vault.client() as client:
            dossier = str(client.create_dossier(PATIENT_INS).dossier_id)
        yield Quoted(vault, db_url, dossier)
    finally:
        server.stop()


def test_a_stream_past_the_document_quota_is_cut_before_the_client_sends_the_rest(
    quoted: Quoted,
) -> None:
    """The client sends the quota and the chunk that crosses it, then holds the rest back
    until the call has ended: a server that waited for the whole document (or its
    finish), or for one more message before it looked at the crossing chunk's write,
    would never answer RESOURCE_EXHAUSTED here, only its idle timeout or the deadline.
    (The upload refuses the crossing chunk before keeping a byte of it.)"""
    sent, held = 0, threading.Event()

    def messages() -> Iterator[pb.PutDocumentRequest]:
        nonlocal sent
        yield next(_stream(quoted.dossier, b""))  # the header
        while sent <= MIB:  # the quota, the chunk that crosses it
            sent += CHUNK
            yield pb.PutDocumentRequest(chunk=b"\x42" * CHUNK)
        held.wait(120)  # the rest, only once the server answered
        for _ in range(64):
            sent += CHUNK
            yield pb.PutDocumentRequest(chunk=b"\x42" * CHUNK)

    outcome = quoted.stub_call(messages())
    held.set()
    assert _reason(outcome) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "DOCUMENT_TOO_LARGE")
    assert sent == MIB + CHUNK
    assert quoted.pending_rows() == 0
    assert quoted.blobs() == 0
    assert quoted.write_refusals() == ["failed"]
    assert quoted.live_sizes() == []


def test_a_document_exactly_at_the_document_quota_is_stored(quoted: Quoted) -> None:
    assert _stored(quoted.put(MIB)).size == MIB


def test_a_full_dossier_refuses_a_new_document_at_its_header(quoted: Quoted) -> None:
    for _ in range(3):
        _stored(quoted.put(MIB))
    blobs = quoted.blobs()
    header_only = iter([next(_stream(quoted.dossier, b""))])  # no chunk, no finish
    outcome = quoted.stub_call(header_only)
    assert _reason(outcome) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "DOSSIER_QUOTA_EXCEEDED")
    assert quoted.write_refusals() == ["failed"]
    assert (quoted.pending_rows(), quoted.blobs()) == (0, blobs)


def test_a_document_that_does_not_fit_is_refused_at_its_finish(quoted: Quoted) -> None:
    for size in (MIB, MIB, MIB // 2):
        _stored(quoted.put(size))
    blobs = quoted.blobs()
    outcome = quoted.put(MIB // 2 + 1)  # one byte past 3 MiB
    assert _reason(outcome) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "DOSSIER_QUOTA_EXCEEDED")
    assert quoted.write_refusals() == ["failed"]
    assert (quoted.pending_rows(), quoted.blobs()) == (0, blobs)
    assert quoted.live_sizes() == [MIB // 2, MIB, MIB]
    _stored(quoted.put(MIB // 2))  # exactly the room left


def test_a_replaced_version_no_longer_counts_against_the_dossier_quota(quoted: Quoted) -> None:
    """Live versions only: the versions a document replaced stay readable (history) but
    the quota counts each document's latest."""
    _stored(quoted.put(MIB))
    _stored(quoted.put(MIB))
    third = _stored(quoted.put(MIB))  # full
    replaced = Replacement(third.document_id, third.version)
    _stored(quoted.put(MIB // 4, replaces=replaced))
    _stored(quoted.put(MIB // 2))  # fits in the room the replacement freed
    assert quoted.live_sizes() == [MIB // 4, MIB // 2, MIB, MIB]


def test_concurrent_uploads_at_the_edge_cannot_together_pass_the_dossier_quota(
    quoted: Quoted,
) -> None:
    """1 MiB of room, four uploads of 3/4 MiB at once: one fits, three are refused (at
    the finish's read or in the commit's transaction, under the dossier row's lock)."""
    _stored(quoted.put(MIB))
    _stored(quoted.put(MIB))
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: quoted.put(3 * MIB // 4), range(4)))
    stored = [o for o in outcomes if isinstance(o, pb.Document)]
    refused = [_reason(o) for o in outcomes if not isinstance(o, pb.Document)]
    assert len(stored) == 1
    assert refused == [(grpc.StatusCode.RESOURCE_EXHAUSTED, "DOSSIER_QUOTA_EXCEEDED")] * 3
    assert sum(quoted.live_sizes()) == 2 * MIB + 3 * MIB // 4
    assert quoted.pending_rows() == 0
    assert quoted.blobs() == 3


def test_a_declared_size_past_the_document_quota_is_refused_at_the_header(
    quoted: Quoted,
) -> None:
    """The header alone is answered: a server that waited for a chunk would hang here."""
    outcome = quoted.header_only(MIB + 1)
    assert _reason(outcome) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "DOCUMENT_TOO_LARGE")
    assert quoted.write_refusals() == ["failed"]
    assert (quoted.pending_rows(), quoted.blobs()) == (0, 0)


def test_a_declared_size_past_the_dossier_room_is_refused_at_the_header(quoted: Quoted) -> None:
    for size in (MIB, MIB, MIB // 2):
        _stored(quoted.put(size))
    blobs = quoted.blobs()
    outcome = quoted.header_only(MIB // 2 + 1)  # one byte past 3 MiB
    assert _reason(outcome) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "DOSSIER_QUOTA_EXCEEDED")
    assert quoted.write_refusals() == ["failed"]
    assert (quoted.pending_rows(), quoted.blobs()) == (0, blobs)


def test_a_declared_replacement_counts_the_room_its_replaced_version_frees(
    quoted: Quoted,
) -> None:
    _stored(quoted.put(MIB))
    _stored(quoted.put(MIB))
    half = _stored(quoted.put(MIB // 2))
    replaces = Replacement(half.document_id, half.version)
    content = b"\x42" * MIB  # 2.5 MiB live, less the 1/2 replaced, plus 1: exactly 3
    _stored(quoted.stub_call(_stream(quoted.dossier, content, replaces, declared=MIB)))
    assert quoted.live_sizes() == [MIB, MIB, MIB]


def test_a_stream_sending_more_than_its_declared_size_is_cut_at_that_chunk(
    quoted: Quoted,
) -> None:
    """Declares one chunk, sends two, then holds the rest back until the call has ended:
    the server answers at the second chunk, without waiting for the finish."""
    sent, held = 0, threading.Event()

    def messages() -> Iterator[pb.PutDocumentRequest]:
        nonlocal sent
        yield next(_stream(quoted.dossier, b"", declared=CHUNK))
        for _ in range(2):
            sent += CHUNK
            yield pb.PutDocumentRequest(chunk=b"\x42" * CHUNK)
        held.wait(120)
        sent += CHUNK
        yield pb.PutDocumentRequest(chunk=b"\x42" * CHUNK)

    outcome = quoted.stub_call(messages())
    held.set()
    assert _reason(outcome)[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert sent == 2 * CHUNK
    assert quoted.write_refusals() == ["invalid-argument"]
    assert (quoted.pending_rows(), quoted.blobs(), quoted.live_sizes()) == (0, 0, [])


def test_a_finish_short_of_the_declared_size_is_refused(quoted: Quoted) -> None:
    """Content and finish agree with each other, not with the header: nothing stored."""
    outcome = quoted.stub_call(_stream(quoted.dossier, b"\x42" * CHUNK, declared=CHUNK + 1))
    assert _reason(outcome)[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert (quoted.pending_rows(), quoted.blobs(), quoted.live_sizes()) == (0, 0, [])


def test_the_client_declares_a_files_size_and_is_refused_before_sending_it(
    quoted: Quoted, tmp_path: Path
) -> None:
    """A regular file's size is declared: the refusal comes at the header, before the
    decision's `allow` (a refusal in the stream is journaled after it)."""
    big = tmp_path / "series.dcm"
    big.write_bytes(b"\x42" * (MIB + 1))
    with quoted.vault.client() as client, pytest.raises(ResourceExhaustedError):
        client.put_document(quoted.dossier, REPORT, big)
    assert quoted.write_entries() == [("deny", "failed")]


def test_the_client_declares_no_size_for_a_stream_of_unknown_length(quoted: Quoted) -> None:
    """Chunks from an iterable: no size to declare, the stream is cut as it crosses the
    quota, after the decision's `allow`."""
    chunks = (b"\x42" * CHUNK for _ in range(8))
    with quoted.vault.client() as client, pytest.raises(ResourceExhaustedError):
        client.put_document(quoted.dossier, REPORT, chunks)
    assert [decision for decision, _ in quoted.write_entries()] == ["allow", "deny"]
