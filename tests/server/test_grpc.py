"""End to end over a real gRPC channel to a real server (both index backends)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.conftest import OTHER_INS, PATIENT_INS, RunningVault
from vault.crypto.objectformat import DEFAULT_SEGMENT_SIZE
from vault.domain.model import ActorKind, DocumentCategory, DocumentFormat, DocumentMetadata
from vault.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    OutOfRangeError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from vault.journal.sql import SqlJournal
from vault.sqlstore import make_engine
from vault.v1 import vault_pb2 as pb
from vault.v1 import vault_pb2_grpc

REPORT = DocumentMetadata(
    "Compte rendu d'hospitalisation", DocumentCategory.REPORTS, "application/pdf"
)
SEGMENT = DEFAULT_SEGMENT_SIZE


def _journal(vault: RunningVault) -> list[dict[str, object]]:
    journal = SqlJournal(make_engine(vault.config.journal_url))
    return [
        {
            "action": e.event.action,
            "decision": e.event.decision,
            "reason": e.event.reason,
            "documents": e.event.documents,
            "actor_ref": e.event.actor_ref,
        }
        for e in journal.entries()
    ]


@pytest.mark.parametrize(
    "size",
    [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT],
    ids=["empty", "one-byte", "segment-minus-one", "one-segment", "segment-plus-one", "three"],
)
def test_document_round_trip(running_vault: RunningVault, size: int) -> None:
    content = os.urandom(size)
    with running_vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        stored = client.put_document(dossier.dossier_id, REPORT, content, chunk_size=300_000)
        download = client.get_document(dossier.dossier_id, stored.document_id)
        received = b"".join(download)
    assert received == content
    assert stored.size == size
    assert stored.sha256 == hashlib.sha256(content).digest()
    assert download.document.metadata == replace(REPORT, format=DocumentFormat.PDF)


@pytest.mark.slow
def test_fifty_megabyte_document_round_trip_from_a_file(
    running_vault: RunningVault, tmp_path: Path
) -> None:
    source, copy = tmp_path / "scan.bin", tmp_path / "copy.bin"
    source.write_bytes(os.urandom(50 * 1000 * 1000))
    with running_vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        stored = client.put_document(dossier.dossier_id, REPORT, source)
        client.download(dossier.dossier_id, stored.document_id, copy)
    assert copy.read_bytes() == source.read_bytes()


def test_blob_on_disk_holds_no_plaintext_and_no_title(running_vault: RunningVault) -> None:
    marker = b"DIAGNOSTIC-CONFIDENTIEL-" * 1000
    with running_vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        client.put_document(dossier.dossier_id, REPORT, marker)
    data_dir = running_vault.config.data_dir
    blobs = [p for p in (data_dir / "blobs" / "objects").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    stored = blobs[0].read_bytes()
    assert b"DIAGNOSTIC" not in stored
    assert REPORT.title.encode() not in stored
    for path in data_dir.rglob("*"):  # nor the index, nor the journal, nor anything
        if path.is_file():
            content = path.read_bytes()
            assert b"DIAGNOSTIC" not in content
            assert REPORT.title.encode() not in content
            assert PATIENT_INS.encode() not in content


def test_listing_pages_through_every_document(running_vault: RunningVault) -> None:
    with running_vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        stored = [client.put_document(dossier.dossier_id, REPORT, bytes([i])) for i in range(5)]
        first = client.list_documents(dossier.dossier_id, page_size=2)
        listed = list(client.iter_documents(dossier.dossier_id, page_size=2))
    assert len(first.documents) == 2
    assert first.next_page_token
    assert [d.document_id for d in listed] == [d.document_id for d in reversed(stored)]


def test_wrong_signature_token_is_unauthenticated(running_vault: RunningVault) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from vault.auth import mint_token

    forged = mint_token(
        Ed25519PrivateKey.generate(), kind=ActorKind.PATIENT, subject=PATIENT_INS, ttl_seconds=600
    )
    with running_vault.client(forged) as client, pytest.raises(UnauthenticatedError):
        client.create_dossier(PATIENT_INS)


def test_expired_token_is_unauthenticated(running_vault: RunningVault) -> None:
    expired = running_vault.token(ttl_seconds=-120)
    with running_vault.client(expired) as client, pytest.raises(UnauthenticatedError):
        client.create_dossier(PATIENT_INS)


@pytest.mark.parametrize("token", ["", "not-a-jwt", "Bearer"], ids=["empty", "garbage", "word"])
def test_missing_or_garbage_token_is_unauthenticated(
    running_vault: RunningVault, token: str
) -> None:
    with running_vault.client(token) as client, pytest.raises(UnauthenticatedError):
        client.create_dossier(PATIENT_INS)


def test_refusals_before_any_actor_are_journaled(running_vault: RunningVault) -> None:
    with running_vault.client("garbage") as client, pytest.raises(UnauthenticatedError):
        client.create_dossier(PATIENT_INS)
    assert _journal(running_vault)[-1] == {
        "action": "dossier.create",
        "decision": "deny",
        "reason": "unauthenticated",
        "documents": (),
        "actor_ref": "-",
    }


@pytest.mark.parametrize(
    "ins",
    ["18412764510894", "184127645108947", "1841276451089A6", "1841X7645108946"],
    ids=["too-short", "wrong-key", "letter-in-key", "letter-outside-corsica"],
)
def test_malformed_ins_is_invalid_argument_and_never_echoed(
    running_vault: RunningVault, ins: str
) -> None:
    with running_vault.client() as client, pytest.raises(InvalidArgumentError) as caught:
        client.create_dossier(ins)
    assert ins not in str(caught.value)


def test_a_patient_cannot_open_a_dossier_for_someone_else(running_vault: RunningVault) -> None:
    with running_vault.client() as client, pytest.raises(PermissionDeniedError):
        client.create_dossier(OTHER_INS)


def test_second_dossier_for_the_same_patient_already_exists(running_vault: RunningVault) -> None:
    with running_vault.client() as client:
        client.create_dossier(PATIENT_INS)
        with pytest.raises(AlreadyExistsError):
            client.create_dossier(PATIENT_INS)


def test_unknown_dossier_is_not_found(running_vault: RunningVault) -> None:
    unknown = "01a214a7-83c6-7298-9bfd-b41ded0f71a0"
    with running_vault.client() as client:
        with pytest.raises(NotFoundError):
            client.get_dossier(dossier_id=unknown)
        with pytest.raises(NotFoundError):
            client.put_document(unknown, REPORT, b"x")
        with pytest.raises(NotFoundError):
            client.list_documents(unknown)


def test_malformed_dossier_id_is_invalid_argument(running_vault: RunningVault) -> None:
    with running_vault.client() as client, pytest.raises(InvalidArgumentError):
        client.get_dossier(dossier_id="../../etc/passwd")


def test_unknown_document_is_not_found(running_vault: RunningVault) -> None:
    with running_vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        with pytest.raises(NotFoundError):
            client.get_document(dossier.dossier_id, "01a214a7-83c6-7298-9bfd-b41ded0f71a0")


def test_another_patient_reaches_nothing_of_the_dossier(running_vault: RunningVault) -> None:
    with running_vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        document = client.put_document(dossier.dossier_id, REPORT, b"secret")
    stranger = running_vault.token(subject=OTHER_INS)
    with running_vault.client(stranger) as client:
        with pytest.raises(PermissionDeniedError):
            client.get_dossier(dossier_id=dossier.dossier_id)
        with pytest.raises(NotFoundError, match="no such dossier"):
            client.get_dossier(ins=PATIENT_INS)  # as if there were none (test_access.py)
        with pytest.raises(PermissionDeniedError):
            client.get_document(dossier.dossier_id, document.document_id)
        with pytest.raises(PermissionDeniedError):
            client.list_documents(dossier.dossier_id)
        with pytest.raises(PermissionDeniedError):
            client.put_document(dossier.dossier_id, REPORT, b"intrusion")


@pytest.mark.parametrize("kind", [ActorKind.INSURER, ActorKind.OPERATOR, ActorKind.AUDITOR])
def test_actors_who_never_read_are_denied(running_vault: RunningVault, kind: ActorKind) -> None:
    with running_vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
    staff = running_vault.client(running_vault.token(kind, "staff-1"))
    with staff as client, pytest.raises(PermissionDeniedError) as caught:
        client.list_documents(dossier.dossier_id)
    assert caught.value.reason == "actor-never-allowed"


def test_every_request_is_journaled_once_allowed_or_denied(running_vault: RunningVault) -> None:
    with running_vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        document = client.put_document(dossier.dossier_id, REPORT, b"x")
        client.list_documents(dossier.dossier_id)
        b"".join(client.get_document(dossier.dossier_id, document.document_id))
    stranger = running_vault.client(running_vault.token(subject=OTHER_INS))
    with stranger as client, pytest.raises(PermissionDeniedError):
        client.list_documents(dossier.dossier_id)
    entries = _journal(running_vault)
    assert [(e["action"], e["decision"], e["reason"]) for e in entries] == [
        ("dossier.create", "allow", "holder"),
        ("document.write", "allow", "holder"),
        ("document.list", "allow", "holder"),
        ("document.read", "allow", "holder"),
        ("document.list", "deny", "not-holder"),
    ]
    assert entries[2]["documents"] == (str(document.document_id),)
    assert all(PATIENT_INS not in str(e) for e in entries)


def test_put_without_header_is_invalid_argument(running_vault: RunningVault) -> None:
    with grpc.insecure_channel(running_vault.server.target) as channel:
        stub = vault_pb2_grpc.DossierVaultStub(channel)
        metadata = (("authorization", f"Bearer {running_vault.token()}"),)
        with pytest.raises(grpc.RpcError) as caught:
            stub.PutDocument(iter([pb.PutDocumentRequest(chunk=b"x")]), metadata=metadata)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_health_and_reflection_answer(running_vault: RunningVault) -> None:
    with grpc.insecure_channel(running_vault.server.target) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(  # type: ignore[attr-defined]
            health_pb2.HealthCheckRequest(service="vault.v1.DossierVault")
        )
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = reflection.ServerReflectionInfo(  # type: ignore[operator]
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        services = {s.name for r in replies for s in r.list_services_response.service}
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert "vault.v1.DossierVault" in services


@pytest.mark.parametrize(
    ("offset", "length"),
    [
        (0, 10),
        (SEGMENT - 5, 10),
        (SEGMENT + 3, 2 * SEGMENT),
        (3 * SEGMENT - 1, None),
        (3 * SEGMENT, None),
        (2 * SEGMENT, 10 * SEGMENT),
        (5, 0),
    ],
    ids=[
        "head",
        "across-a-boundary",
        "spanning-segments",
        "last-byte",
        "at-the-end",
        "past-the-end",
        "empty",
    ],
)
def test_byte_ranges_return_exactly_the_requested_bytes(
    running_vault: RunningVault, offset: int, length: int | None
) -> None:
    content = os.urandom(3 * SEGMENT)
    with running_vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        stored = client.put_document(dossier.dossier_id, REPORT, content)
        got = b"".join(
            client.get_document(
                dossier.dossier_id, stored.document_id, offset=offset, length=length
            )
        )
    end = len(content) if length is None else offset + length
    assert got == content[offset:end]


def test_a_range_starting_past_the_end_is_out_of_range(running_vault: RunningVault) -> None:
    with running_vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        stored = client.put_document(dossier.dossier_id, REPORT, b"short")
        with pytest.raises(OutOfRangeError):
            client.get_document(dossier.dossier_id, stored.document_id, offset=6)
