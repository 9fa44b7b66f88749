"""The DMP's document model over gRPC (SQLite and PostgreSQL): authors, formats, type
codes and dates of care, versions (replacement, deprecated history), searches with page
tokens bound to their filters, and bad input refused with nothing written."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from tests.conftest import PATIENT_INS, RunningVault
from tests.server.test_access import CARDIOLOGIST, NURSE, rpps
from vault import archive, wire
from vault.client import VaultClient
from vault.domain.model import (
    ActorKind,
    Author,
    DocumentCategory,
    DocumentFormat,
    DocumentMetadata,
    DocumentQuery,
    DocumentStatus,
    Replacement,
    Visibility,
)
from vault.errors import (
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from vault.v1 import vault_pb2 as pb
from vault.v1.vault_pb2_grpc import DossierVaultStub

CARE = datetime(2025, 3, 14, tzinfo=UTC)
REPORT = DocumentMetadata(
    "Compte rendu de consultation",
    DocumentCategory.REPORTS,
    "application/pdf",
    type_code="11488-4",
    care_date=CARE,
)
LAB = DocumentMetadata("Bilan sanguin", DocumentCategory.BIOLOGY, "text/xml", type_code="11502-2")
DIRECTIVES = DocumentMetadata(
    "Directives anticipées", DocumentCategory.ADVANCE_DIRECTIVES, "text/plain", "EXPPAT_3"
)
BOTH = frozenset(DocumentStatus)


@dataclass
class Clinic:
    """A dossier whose patient authorised a cardiologist and a nurse."""

    vault: RunningVault
    dossier_id: str

    def patient(self) -> VaultClient:
        return self.vault.client()

    def professional(
        self, number: str = CARDIOLOGIST, profession: str = "physician"
    ) -> VaultClient:
        token = self.vault.token(
            ActorKind.PROFESSIONAL, number, profession=profession, specialty="cardiology"
        )
        return self.vault.client(token)

    def versions(self, document_id: uuid.UUID) -> list[tuple[int, DocumentStatus]]:
        with self.patient() as patient:
            query = DocumentQuery(document_id=document_id)
            return [(d.version, d.status) for d in patient.iter_documents(self.dossier_id, query)]

    def raw_status(self, method: str, request: object) -> grpc.StatusCode:
        """The status of a hand-built request the client would refuse to build."""
        with grpc.insecure_channel(self.vault.server.target) as channel:
            call = getattr(DossierVaultStub(channel), method)
            with pytest.raises(grpc.RpcError) as refused:
                call(request, metadata=(("authorization", f"Bearer {self.vault.token()}"),))
        code: grpc.StatusCode = refused.value.code()
        return code

    def actions(self) -> list[tuple[str, str, str]]:
        with self.patient() as patient:
            records, _ = patient.query_journal(dossier_id=self.dossier_id, page_size=1000)
        return [(e.action, e.decision, e.reason) for _, e in records if e.action != "journal.read"]


@pytest.fixture
def clinic(running_vault: RunningVault) -> Clinic:
    with running_vault.client() as patient:
        dossier = patient.create_dossier(PATIENT_INS)
        patient.authorise(dossier.dossier_id, CARDIOLOGIST)
        patient.authorise(dossier.dossier_id, NURSE)
    return Clinic(running_vault, str(dossier.dossier_id))


def test_a_document_carries_its_author_format_type_code_and_date_of_care(clinic: Clinic) -> None:
    with clinic.professional() as cardiologist:
        stored = cardiologist.put_document(clinic.dossier_id, REPORT, b"%PDF-1.7 ...")
    assert stored.author == Author(ActorKind.PROFESSIONAL, CARDIOLOGIST, "physician", "cardiology")
    assert stored.metadata == replace(REPORT, format=DocumentFormat.PDF)
    assert stored.status is DocumentStatus.CURRENT
    with clinic.patient() as patient:
        (listed,) = patient.list_documents(clinic.dossier_id).documents
        written = patient.put_document(clinic.dossier_id, DIRECTIVES, b"je refuse...")
    assert listed == stored
    assert written.author == Author(ActorKind.PATIENT)  # never named by an INS
    assert written.metadata.format is DocumentFormat.TEXT


def test_the_author_replaces_a_document_and_its_history_stays_readable(clinic: Clinic) -> None:
    with clinic.professional() as cardiologist:
        first = cardiologist.put_document(clinic.dossier_id, REPORT, b"first draft")
        corrected = replace(
            REPORT, title="Compte rendu (corrigé)", type_code="34133-9", care_date=None
        )
        second = cardiologist.put_document(
            clinic.dossier_id,
            corrected,
            b"corrected",
            replaces=Replacement(str(first.document_id), 1),
        )
    assert (second.document_id, second.version) == (first.document_id, 2)
    assert second.metadata.care_date == CARE  # left out: the replaced version's
    assert clinic.versions(first.document_id) == [
        (2, DocumentStatus.CURRENT),
        (1, DocumentStatus.DEPRECATED),
    ]
    with clinic.patient() as patient:
        (latest,) = patient.list_documents(clinic.dossier_id).documents
        old = patient.get_document(clinic.dossier_id, first.document_id, 1)
        content = b"".join(old)
    assert (latest.version, latest.metadata.title) == (2, "Compte rendu (corrigé)")
    assert content == b"first draft"
    assert old.document.status is DocumentStatus.DEPRECATED
    assert old.document.metadata.type_code == "11488-4"  # each version keeps its own codes
    assert ("document.replace", "allow", "authorised") in clinic.actions()


def test_the_patient_copy_holds_every_version_with_its_document_model(clinic: Clinic) -> None:
    with clinic.professional() as cardiologist:
        first = cardiologist.put_document(clinic.dossier_id, REPORT, b"first draft")
        replaces = Replacement(str(first.document_id), 1)
        cardiologist.put_document(clinic.dossier_id, REPORT, b"corrected", replaces=replaces)
    copy = io.BytesIO()
    with clinic.patient() as patient:
        patient.export_dossier(clinic.dossier_id, copy)
    with zipfile.ZipFile(copy) as zipped:
        metadata = json.loads(zipped.read(archive.METADATA))
        contents = [zipped.read(d["file"]) for d in metadata["documents"]]
    records = metadata["documents"]
    assert metadata["format"] == "dvlt-patient-copy/2"
    assert contents == [b"first draft", b"corrected"]
    assert [(d["version"], d["status"]) for d in records] == [(1, "deprecated"), (2, "current")]
    assert {d["document_id"] for d in records} == {str(first.document_id)}
    assert records[0]["author"] == {
        "kind": "professional",
        "rpps": CARDIOLOGIST,
        "profession": "physician",
        "specialty": "cardiology",
    }
    assert (records[1]["type_code"], records[1]["format"]) == (REPORT.type_code, "pdf")
    assert records[1]["care_date"] == "2025-03-14T00:00:00.000000Z"


def test_only_the_author_replaces_a_document(clinic: Clinic) -> None:
    with clinic.professional() as cardiologist:
        stored = cardiologist.put_document(clinic.dossier_id, LAB, b"<ClinicalDocument/>")
    replaces = Replacement(str(stored.document_id), 1)
    with clinic.patient() as patient, pytest.raises(PermissionDeniedError, match="not-author"):
        patient.put_document(clinic.dossier_id, LAB, b"forged", replaces=replaces)
    with (
        clinic.professional(NURSE, "nurse") as nurse,
        pytest.raises(PermissionDeniedError, match="not-author"),
    ):
        nurse.put_document(clinic.dossier_id, LAB, b"forged", replaces=replaces)
    assert clinic.versions(stored.document_id) == [(1, DocumentStatus.CURRENT)]
    denials = [a for a in clinic.actions() if a[0] == "document.replace"]
    assert denials == [("document.replace", "deny", "not-author")] * 2


def test_a_replacement_of_a_version_that_never_was_is_not_found_like_a_hidden_document(
    clinic: Clinic,
) -> None:
    """Replacing version 5 of a document at version 1 is no conflict (no newer version
    exists): NOT_FOUND, with the status of a missing document and of one the patient
    masked, so that the answer tells nothing of a document the caller may not see."""
    with clinic.professional() as cardiologist:
        mine = cardiologist.put_document(clinic.dossier_id, REPORT, b"v1")
        masked = cardiologist.put_document(clinic.dossier_id, REPORT, b"masked")
    with clinic.patient() as patient:
        patient.set_visibility(
            clinic.dossier_id, masked.document_id, Visibility.MASKED_FROM_PROFESSIONALS
        )
    refusals = []
    with clinic.professional() as cardiologist:
        for replaces in (
            Replacement(str(mine.document_id), 5),
            Replacement(str(mine.document_id), 2),
            Replacement(str(uuid.uuid4()), 1),
            Replacement(str(masked.document_id), 1),
        ):
            with pytest.raises(NotFoundError) as refused:
                cardiologist.put_document(clinic.dossier_id, REPORT, b"v?", replaces=replaces)
            refusals.append(str(refused.value))
    assert refusals == ["no such document"] * 4
    assert clinic.versions(mine.document_id) == [(1, DocumentStatus.CURRENT)]
    replacing = [a for a in clinic.actions() if a[0] == "document.replace"]
    assert [decision for _, decision, _ in replacing] == ["deny"] * 4


def test_a_replacement_of_a_superseded_version_is_aborted(clinic: Clinic) -> None:
    with clinic.professional() as cardiologist:
        first = cardiologist.put_document(clinic.dossier_id, REPORT, b"v1")
        stale = Replacement(str(first.document_id), 1)
        cardiologist.put_document(clinic.dossier_id, REPORT, b"v2", replaces=stale)
        with pytest.raises(ConflictError):
            cardiologist.put_document(clinic.dossier_id, REPORT, b"lost?", replaces=stale)
    assert clinic.actions()[-1] == ("document.replace", "deny", "conflict")
    assert clinic.versions(first.document_id) == [
        (2, DocumentStatus.CURRENT),
        (1, DocumentStatus.DEPRECATED),
    ]


@pytest.mark.parametrize(
    ("change", "visibility"),
    [
        ({"category": DocumentCategory.IMAGING, "media_type": "image/png"}, Visibility.NORMAL),
        ({}, Visibility.HIDDEN_FROM_PATIENT),
    ],
    ids=["category", "visibility"],
)
def test_a_replacement_keeps_its_documents_category_and_visibility(
    clinic: Clinic, change: dict[str, object], visibility: Visibility
) -> None:
    with clinic.professional() as cardiologist:
        first = cardiologist.put_document(clinic.dossier_id, REPORT, b"v1")
        with pytest.raises(InvalidArgumentError, match="keeps"):
            cardiologist.put_document(
                clinic.dossier_id,
                replace(REPORT, **change),  # type: ignore[arg-type]
                b"v2",
                visibility=visibility,
                replaces=Replacement(str(first.document_id), 1),
            )
    assert clinic.versions(first.document_id) == [(1, DocumentStatus.CURRENT)]


def test_a_search_filters_by_category_type_author_status_and_date_of_care(
    clinic: Clinic,
) -> None:
    other = rpps("1000000009")
    with clinic.patient() as patient:
        patient.authorise(clinic.dossier_id, other)
    with clinic.professional() as cardiologist:
        report = cardiologist.put_document(clinic.dossier_id, REPORT, b"r")
        lab = cardiologist.put_document(
            clinic.dossier_id, replace(LAB, care_date=CARE + timedelta(days=30)), b"l"
        )
    with clinic.professional(other) as colleague:
        later = colleague.put_document(clinic.dossier_id, LAB, b"l2")
        colleague.put_document(
            clinic.dossier_id, LAB, b"l3", replaces=Replacement(str(later.document_id), 1)
        )

    def found(query: DocumentQuery) -> list[tuple[uuid.UUID, int]]:
        with clinic.patient() as patient:
            documents = patient.iter_documents(clinic.dossier_id, query, page_size=1)
            return [(d.document_id, d.version) for d in documents]

    assert found(DocumentQuery(categories=frozenset({DocumentCategory.REPORTS}))) == [
        (report.document_id, 1)
    ]
    assert found(DocumentQuery(type_codes=frozenset({"11502-2"}), author=CARDIOLOGIST)) == [
        (lab.document_id, 1)
    ]
    assert found(DocumentQuery(author=other, statuses=BOTH)) == [
        (later.document_id, 2),
        (later.document_id, 1),
    ]
    in_april = DocumentQuery(care_from=CARE + timedelta(days=1), care_until=CARE + timedelta(60))
    assert found(in_april) == [(lab.document_id, 1)]
    with clinic.patient() as patient:
        counts = patient.count_documents(clinic.dossier_id)
    assert counts == {DocumentCategory.REPORTS: 1, DocumentCategory.BIOLOGY: 2}


def test_a_page_token_only_continues_the_search_it_came_from(clinic: Clinic) -> None:
    with clinic.professional() as cardiologist:
        for _ in range(3):
            cardiologist.put_document(clinic.dossier_id, LAB, b"l")
    biology = DocumentQuery(categories=frozenset({DocumentCategory.BIOLOGY}))
    with clinic.patient() as patient:
        first = patient.list_documents(clinic.dossier_id, biology, page_size=1)
        assert first.next_page_token
        continued = patient.list_documents(
            clinic.dossier_id, biology, page_size=1, page_token=first.next_page_token
        )
        assert len(continued.documents) == 1
        other_query = replace(biology, type_codes=frozenset({"11502-2"}))
        with pytest.raises(InvalidArgumentError, match="another query"):
            patient.list_documents(
                clinic.dossier_id, other_query, page_size=1, page_token=first.next_page_token
            )
        forged = first.next_page_token[:-4] + "AAAA"
        with pytest.raises(InvalidArgumentError):
            patient.list_documents(clinic.dossier_id, biology, page_token=forged)


def _search_refusals() -> dict[str, DocumentQuery | Callable[[pb.ListDocumentsRequest], None]]:
    def raw(**fields: object) -> Callable[[pb.ListDocumentsRequest], None]:
        def fill(request: pb.ListDocumentsRequest) -> None:
            for name, value in fields.items():
                field = getattr(request, name)
                if isinstance(value, list):
                    field.extend(value)
                else:
                    setattr(request, name, value)

        return fill

    return {
        "reversed-date-range": DocumentQuery(care_from=CARE, care_until=CARE - timedelta(days=1)),
        "empty-date-range": DocumentQuery(care_from=CARE, care_until=CARE),
        "type-code-check-digit": DocumentQuery(type_codes=frozenset({"11502-3"})),
        "author-not-an-rpps": DocumentQuery(author="12345"),
        "too-many-type-codes": DocumentQuery(type_codes=frozenset(f"X{n}" for n in range(101))),
        "unknown-category": raw(categories=[99]),
        "unknown-status": raw(statuses=[7]),
        "malformed-document-id": raw(document_id="../etc"),
        "page-size-zero": raw(page_size=0),
        "page-size-too-big": raw(page_size=1001),
    }


@pytest.mark.parametrize("bad", list(_search_refusals().values()), ids=list(_search_refusals()))
def test_a_malformed_search_is_invalid(
    clinic: Clinic, bad: DocumentQuery | Callable[[pb.ListDocumentsRequest], None]
) -> None:
    request = pb.ListDocumentsRequest(dossier_id=clinic.dossier_id)
    if isinstance(bad, DocumentQuery):
        wire.query_to_proto(bad, request)
    else:
        bad(request)
    assert clinic.raw_status("ListDocuments", request) is grpc.StatusCode.INVALID_ARGUMENT
    assert clinic.actions()[-1][1:] == ("deny", "invalid-argument")


@pytest.mark.parametrize(
    "metadata",
    [
        replace(REPORT, media_type="application/octet-stream"),
        replace(REPORT, media_type="image/"),
        replace(REPORT, format=DocumentFormat.FHIR_JSON),
        replace(REPORT, type_code="11488-5"),
        replace(REPORT, type_code="loinc:11488-4"),
        replace(REPORT, care_date=datetime.now(UTC) + timedelta(days=3)),
        replace(REPORT, care_date=datetime(1899, 12, 31, tzinfo=UTC)),
    ],
    ids=[
        "unsupported-media-type",
        "media-type-without-subtype",
        "format-contradicts-media-type",
        "type-code-check-digit",
        "type-code-of-no-system",
        "care-date-in-the-future",
        "care-date-before-1900",
    ],
)
def test_malformed_metadata_is_invalid_and_writes_nothing(
    clinic: Clinic, metadata: DocumentMetadata
) -> None:
    with clinic.professional() as cardiologist, pytest.raises(InvalidArgumentError):
        cardiologist.put_document(clinic.dossier_id, metadata, b"never stored")
    assert clinic.actions()[-1] == ("document.write", "deny", "invalid-argument")
    with clinic.patient() as patient:
        assert patient.list_documents(clinic.dossier_id).documents == ()


def test_an_unknown_category_number_is_invalid(clinic: Clinic) -> None:
    header = pb.PutDocumentHeader(
        dossier_id=clinic.dossier_id,
        metadata=pb.DocumentMetadata(
            title="t", category=pb.DocumentCategory.ValueType(42), media_type="text/plain"
        ),
    )
    finish = pb.PutDocumentFinish(size=0, sha256=hashlib.sha256(b"").digest())
    messages = iter([pb.PutDocumentRequest(header=header), pb.PutDocumentRequest(finish=finish)])
    assert clinic.raw_status("PutDocument", messages) is grpc.StatusCode.INVALID_ARGUMENT
    assert clinic.actions()[-1] == ("document.write", "deny", "invalid-argument")
    with clinic.patient() as patient:
        assert patient.list_documents(clinic.dossier_id).documents == ()
