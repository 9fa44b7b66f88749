"""ExportDossier's first message over gRPC against a real server (SQLite and
PostgreSQL): it announces what the archive that follows holds (documents, versions,
content bytes), before any byte of it, and what it announces is what arrives; a client
that only concatenates chunks still gets the archive."""

from __future__ import annotations

import io
import zipfile

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from tests.conftest import PATIENT_INS, RunningVault
from tests.server.test_access import CARDIOLOGIST, MINOR, NURSE, PARENT, REPORT
from vault.domain.model import (
    ActorKind,
    DocumentCategory,
    DocumentMetadata,
    ExportSummary,
    Replacement,
    Visibility,
)
from vault.v1 import vault_pb2 as pb
from vault.v1.vault_pb2_grpc import DossierVaultStub

NOTE = DocumentMetadata("Note", DocumentCategory.TREATMENTS_AND_CARE, "text/plain")
CONTENT_PREFIX = "IHE_XDM/SUBSET01/DOC"


def raw_export(vault: RunningVault, token: str, dossier: str) -> list[pb.ExportDossierResponse]:
    with grpc.insecure_channel(vault.server.target) as channel:
        stream = DossierVaultStub(channel).ExportDossier(
            pb.ExportDossierRequest(dossier_id=dossier),
            metadata=(("authorization", f"Bearer {token}"),),
        )
        return list(stream)


def old_response_class() -> type[Message]:
    """ExportDossierResponse as it was before the summary: `bytes chunk = 1` only."""
    file = descriptor_pb2.FileDescriptorProto(
        name="old_export.proto", package="old", syntax="proto3"
    )
    message = file.message_type.add(name="ExportDossierResponse")
    message.field.add(
        name="chunk",
        number=1,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("old.ExportDossierResponse"))


def contents(archive: bytes) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(io.BytesIO(archive)) as copy:
        return [i for i in copy.infolist() if i.filename.startswith(CONTENT_PREFIX)]


def test_the_first_message_announces_exactly_the_archive_that_follows(
    running_vault: RunningVault,
) -> None:
    with running_vault.client() as patient:
        dossier = str(patient.create_dossier(PATIENT_INS).dossier_id)
        patient.authorise(dossier, CARDIOLOGIST)
        first = patient.put_document(dossier, REPORT, b"%PDF-1.7 first" * 100)
        patient.put_document(
            dossier,
            REPORT,
            b"%PDF-1.7 second" * 50,
            replaces=Replacement(str(first.document_id), 1),
        )
        patient.put_document(dossier, NOTE, b"a note that compresses " * 1000)
    cardiologist_token = running_vault.token(
        ActorKind.PROFESSIONAL, CARDIOLOGIST, profession="physician", specialty="cardiology"
    )
    with running_vault.client(cardiologist_token) as cardiologist:
        cardiologist.put_document(
            dossier, REPORT, b"held", visibility=Visibility.HIDDEN_FROM_PATIENT
        )
    messages = raw_export(running_vault, running_vault.token(), dossier)
    head, rest = messages[0], messages[1:]
    assert head.HasField("summary")
    assert head.chunk == b""
    assert rest
    assert all(not m.HasField("summary") and m.chunk for m in rest)
    files = contents(b"".join(m.chunk for m in rest))
    assert (head.summary.documents, head.summary.versions) == (2, len(files)) == (2, 3)
    assert head.summary.content_bytes == sum(i.file_size for i in files) == 1400 + 750 + 23000


def test_a_representatives_export_announces_only_what_it_holds(
    running_vault: RunningVault,
) -> None:
    with running_vault.client(running_vault.token(subject=MINOR)) as minor:
        dossier = str(minor.create_dossier(MINOR).dossier_id)
        minor.add_representative(dossier, PARENT)
        minor.authorise(dossier, NURSE)
        minor.put_document(dossier, NOTE, b"vaccine")
    nurse_token = running_vault.token(ActorKind.PROFESSIONAL, NURSE, profession="nurse")
    with running_vault.client(nurse_token) as nurse:
        nurse.put_document(
            dossier, NOTE, b"secret", visibility=Visibility.HIDDEN_FROM_REPRESENTATIVES
        )
    parent_token = running_vault.token(ActorKind.LEGAL_REPRESENTATIVE, PARENT)
    messages = raw_export(running_vault, parent_token, dossier)
    assert messages[0].summary == pb.ExportSummary(documents=1, versions=1, content_bytes=7)
    assert len(contents(b"".join(m.chunk for m in messages))) == 1


def test_a_client_built_before_the_summary_reads_the_same_archive(
    running_vault: RunningVault,
) -> None:
    with running_vault.client() as patient:
        dossier = str(patient.create_dossier(PATIENT_INS).dossier_id)
        patient.put_document(dossier, NOTE, b"note")
    messages = raw_export(running_vault, running_vault.token(), dossier)
    old = old_response_class()
    parsed = [old.FromString(m.SerializeToString()) for m in messages]
    archive = b"".join(m.chunk for m in parsed)  # type: ignore[attr-defined]
    assert archive == b"".join(m.chunk for m in messages)
    assert [i.file_size for i in contents(archive)] == [4]


def test_the_client_reports_the_summary_before_writing_and_writes_the_same_archive(
    running_vault: RunningVault,
) -> None:
    with running_vault.client() as patient:
        dossier = str(patient.create_dossier(PATIENT_INS).dossier_id)
        patient.put_document(dossier, NOTE, b"note")
        out = io.BytesIO()
        announced: list[tuple[ExportSummary, int]] = []
        summary = patient.export_dossier(
            dossier, out, on_summary=lambda s: announced.append((s, out.tell()))
        )
    assert summary == ExportSummary(documents=1, versions=1, content_bytes=4)
    assert announced == [(summary, 0)]
    assert [i.file_size for i in contents(out.getvalue())] == [4]
