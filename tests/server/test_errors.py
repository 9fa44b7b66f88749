"""Structured errors and call conventions, through the real server (docs/api.md).

A refusal carries a `google.rpc.Status` in `grpc-status-details-bin` with an ErrorInfo
reason a client can branch on (and a BadRequest for bad input); a document the caller
may not see is refused byte for byte like one that does not exist; every reason the
code can produce is listed in docs/api.md; the request id comes in the initial metadata
as well as the trailer; reflection answers as v1 as well as v1alpha.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google.rpc.error_details_pb2 as error_details_pb2
import google.rpc.status_pb2 as status_pb2
import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2
from grpc_status import rpc_status

from tests.conftest import OTHER_INS, PATIENT_INS, RunningVault
from tests.domain.test_policy import decided
from vault.domain.identifiers import luhn_valid
from vault.domain.model import ActorKind, DocumentCategory, DocumentMetadata, Visibility
from vault.domain.policy import Reason
from vault.errors import ERROR_DOMAIN, PermissionDeniedError, error_classes, reason_codes
from vault.server.details import rich_status
from vault.v1 import vault_pb2 as pb
from vault.v1.vault_pb2_grpc import DossierVaultStub

DETAILS = "grpc-status-details-bin"
ROOT = Path(__file__).resolve().parents[2]
API, PROTO = ROOT / "docs" / "api.md", ROOT / "protos" / "vault" / "v1" / "vault.proto"


def rpps(stem: str) -> str:
    """A well-formed RPPS number: 10 digits and their Luhn check digit."""
    return next(stem + d for d in "0123456789" if luhn_valid(stem + d))


CARDIOLOGIST, STRANGER = rpps("1000000001"), rpps("1000000009")
REPORT = DocumentMetadata("Compte rendu", DocumentCategory.REPORTS, "application/pdf")


@dataclass
class Dossier:
    """A running vault with one patient's dossier holding a report."""

    vault: RunningVault
    dossier_id: str
    report_id: str

    def stub(self, channel: grpc.Channel) -> DossierVaultStub:
        return DossierVaultStub(channel)

    def auth(self, kind: ActorKind = ActorKind.PATIENT, subject: str = PATIENT_INS) -> Any:
        profession = "physician" if kind is ActorKind.PROFESSIONAL else None
        specialty = "cardiology" if kind is ActorKind.PROFESSIONAL else None
        token = self.vault.token(kind, subject, profession=profession, specialty=specialty)
        return (("authorization", f"Bearer {token}"),)

    def professional(self, number: str) -> Any:
        return self.auth(ActorKind.PROFESSIONAL, number)


@pytest.fixture
def dossier(running_vault: RunningVault) -> Dossier:
    with running_vault.client() as patient:
        created = patient.create_dossier(PATIENT_INS)
        report = patient.put_document(created.dossier_id, REPORT, b"report")
    return Dossier(running_vault, str(created.dossier_id), str(report.document_id))


@pytest.fixture
def channel(running_vault: RunningVault) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(running_vault.server.target) as opened:
        yield opened


def _refusal(call: Any) -> grpc.Call:
    """The error a call (a thunk) ends with, its responses drained."""
    try:
        result = call()
        if isinstance(result, Iterator):
            list(result)
    except grpc.RpcError as error:
        refused = error
    else:
        pytest.fail("the call was not refused")
    assert isinstance(refused, grpc.Call)  # grpc's errors are the calls that failed
    return refused


def _details(error: grpc.Call) -> status_pb2.Status:
    status = rpc_status.from_call(error)
    assert isinstance(status, status_pb2.Status)
    return status


def _info(error: grpc.Call) -> error_details_pb2.ErrorInfo:
    infos = []
    for detail in _details(error).details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            infos.append(info)
    assert len(infos) == 1
    assert infos[0].domain == ERROR_DOMAIN
    return infos[0]


def _violations(error: grpc.Call) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for detail in _details(error).details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            found.extend((v.field, v.description) for v in bad.field_violations)
    return found


def _trailer(error: grpc.Call, key: str) -> Any:
    return _as_dict(error.trailing_metadata()).get(key)


def _as_dict(metadata: Any) -> dict[str, Any]:
    return dict(metadata or ())


# -- reasons ----------------------------------------------------------------------------


def test_an_unauthorised_professional_is_told_no_authorisation(
    dossier: Dossier, channel: grpc.Channel
) -> None:
    request = pb.ListDocumentsRequest(dossier_id=dossier.dossier_id)
    stub = dossier.stub(channel)
    error = _refusal(lambda: stub.ListDocuments(request, metadata=dossier.professional(STRANGER)))
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert _info(error).reason == "NO_AUTHORISATION"
    assert _info(error).metadata == {}  # no identifier of anyone or anything
    assert _violations(error) == []


def test_a_blocked_professional_is_told_blocked(dossier: Dossier, channel: grpc.Channel) -> None:
    with dossier.vault.client() as patient:
        patient.block(dossier.dossier_id, CARDIOLOGIST)
    request = pb.ListDocumentsRequest(dossier_id=dossier.dossier_id)
    stub = dossier.stub(channel)
    error = _refusal(
        lambda: stub.ListDocuments(request, metadata=dossier.professional(CARDIOLOGIST))
    )
    assert _info(error).reason == "BLOCKED"


def test_a_closed_dossier_is_told_dossier_not_active(
    dossier: Dossier, channel: grpc.Channel
) -> None:
    with dossier.vault.client() as patient:
        patient.authorise(dossier.dossier_id, CARDIOLOGIST)
        patient.close_dossier(dossier.dossier_id)
    request = pb.ListDocumentsRequest(dossier_id=dossier.dossier_id)
    stub = dossier.stub(channel)
    error = _refusal(
        lambda: stub.ListDocuments(request, metadata=dossier.professional(CARDIOLOGIST))
    )
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert _info(error).reason == "DOSSIER_NOT_ACTIVE"


def test_a_malformed_id_is_a_bad_request_without_its_value(
    dossier: Dossier, channel: grpc.Channel
) -> None:
    request = pb.GetDossierRequest(dossier_id="SECRET-not-a-uuid")
    stub = dossier.stub(channel)
    error = _refusal(lambda: stub.GetDossier(request, metadata=dossier.auth()))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert _info(error).reason == "INVALID_ARGUMENT"
    [(_, description)] = _violations(error)
    assert description
    assert "SECRET" not in description


def test_a_field_past_its_bound_is_a_field_violation_naming_it(
    dossier: Dossier, channel: grpc.Channel
) -> None:
    request = pb.ListDocumentsRequest(dossier_id=dossier.dossier_id, page_size=2**32 - 1)
    stub = dossier.stub(channel)
    error = _refusal(lambda: stub.ListDocuments(request, metadata=dossier.auth()))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert _info(error).reason == "FIELD_OUT_OF_BOUNDS"
    assert _violations(error) == [("page_size", "page_size is above 2^31-1")]


def test_bytes_that_do_not_decode_are_told_undecodable(
    dossier: Dossier, channel: grpc.Channel
) -> None:
    raw: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
        "/vault.v1.DossierVault/GetDossier"
    )  # bytes in, bytes out
    error = _refusal(lambda: raw(b"\x0a\xff\xff", metadata=dossier.auth()))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert _info(error).reason == "UNDECODABLE"
    assert _violations(error) == [("", "the request did not decode")]


def test_a_range_past_the_end_is_told_out_of_range(dossier: Dossier, channel: grpc.Channel) -> None:
    request = pb.GetDocumentRequest(
        dossier_id=dossier.dossier_id, document_id=dossier.report_id, offset=1000
    )
    stub = dossier.stub(channel)
    error = _refusal(lambda: stub.GetDocument(request, metadata=dossier.auth()))
    assert error.code() is grpc.StatusCode.OUT_OF_RANGE
    assert _info(error).reason == "OUT_OF_RANGE"


def test_a_bad_token_is_told_unauthenticated(dossier: Dossier, channel: grpc.Channel) -> None:
    request = pb.GetDossierRequest(dossier_id=dossier.dossier_id)
    stub = dossier.stub(channel)
    error = _refusal(
        lambda: stub.GetDossier(request, metadata=(("authorization", "Bearer x.y.z"),))
    )
    assert _info(error).reason == "UNAUTHENTICATED"


# -- what the access rules hide -----------------------------------------------------------


def test_a_masked_document_is_refused_byte_for_byte_like_a_missing_one(
    dossier: Dossier, channel: grpc.Channel
) -> None:
    with dossier.vault.client() as patient:
        patient.authorise(dossier.dossier_id, CARDIOLOGIST)
        patient.set_visibility(
            dossier.dossier_id, dossier.report_id, Visibility.MASKED_FROM_PROFESSIONALS
        )
    stub, cardiologist = dossier.stub(channel), dossier.professional(CARDIOLOGIST)

    def read(document_id: str) -> grpc.Call:
        request = pb.GetDocumentRequest(dossier_id=dossier.dossier_id, document_id=document_id)
        return _refusal(lambda: stub.GetDocument(request, metadata=cardiologist))

    masked, missing = read(dossier.report_id), read(str(uuid.uuid4()))
    assert masked.code() is missing.code() is grpc.StatusCode.NOT_FOUND
    assert masked.details() == missing.details()
    assert _trailer(masked, DETAILS) == _trailer(missing, DETAILS)
    assert _info(masked).reason == "NOT_FOUND"


def test_a_dossier_looked_up_by_a_blocked_professional_is_refused_like_no_dossier(
    dossier: Dossier, channel: grpc.Channel
) -> None:
    with dossier.vault.client() as patient:
        patient.block(dossier.dossier_id, CARDIOLOGIST)
    stub, cardiologist = dossier.stub(channel), dossier.professional(CARDIOLOGIST)

    def look_up(ins: str) -> grpc.Call:
        request = pb.GetDossierRequest(ins=ins)
        return _refusal(lambda: stub.GetDossier(request, metadata=cardiologist))

    blocked, missing = look_up(PATIENT_INS), look_up(OTHER_INS)
    assert blocked.code() is missing.code() is grpc.StatusCode.NOT_FOUND
    assert blocked.details() == missing.details()
    assert _trailer(blocked, DETAILS) == _trailer(missing, DETAILS)


# -- the list of reasons ------------------------------------------------------------------


def _documented() -> dict[str, str]:
    """docs/api.md's reason tables: reason -> status."""
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([A-Z_]+) \|", API.read_text(), re.MULTILINE)
    assert len(rows) == len(dict(rows))  # no reason listed twice
    return dict(rows)


def test_every_reason_the_vault_produces_is_documented_with_its_status() -> None:
    produced = {kind.reason_code: kind.grpc_status for kind in error_classes()}
    assert all(produced[kind.reason_code] == kind.grpc_status for kind in error_classes())
    refusals = {d.reason for _, d in decided() if not d.allowed} - {Reason.DOCUMENT_HIDDEN}
    for reason in refusals:
        produced[PermissionDeniedError(reason.value).error_reason] = "PERMISSION_DENIED"
    assert produced.keys() >= reason_codes()
    assert _documented() == produced


def test_the_proto_header_lists_every_documented_reason() -> None:
    header = PROTO.read_text().split("\nsyntax = ")[0]
    assert set(_documented()) <= set(re.findall(r"\b[A-Z][A-Z_]+[A-Z]\b", header))


def test_a_hidden_document_has_no_reason_of_its_own() -> None:
    assert "DOCUMENT_HIDDEN" not in _documented()
    assert "DOCUMENT_HIDDEN" not in PROTO.read_text()


def test_a_failure_that_is_not_the_vaults_is_internal_with_its_reason() -> None:
    status = rich_status(grpc.StatusCode.INTERNAL, "internal error (request r)", None)
    [(key, value)] = status.trailing_metadata
    assert isinstance(value, bytes)
    details = status_pb2.Status.FromString(value)
    info = error_details_pb2.ErrorInfo()
    assert key == DETAILS
    assert details.code == grpc.StatusCode.INTERNAL.value[0]
    assert details.details[0].Unpack(info)
    assert (info.reason, info.domain) == ("INTERNAL", ERROR_DOMAIN)


# -- conventions ----------------------------------------------------------------------------


def test_the_request_id_comes_first_in_the_initial_metadata_and_again_in_the_trailer(
    dossier: Dossier, channel: grpc.Channel
) -> None:
    stub = dossier.stub(channel)
    _, unary = stub.GetDossier.with_call(
        pb.GetDossierRequest(dossier_id=dossier.dossier_id), metadata=dossier.auth()
    )
    streamed = stub.GetDocument(
        pb.GetDocumentRequest(dossier_id=dossier.dossier_id, document_id=dossier.report_id),
        metadata=dossier.auth(),
    )
    initial = _as_dict(streamed.initial_metadata())  # before any response is read
    list(streamed)
    refused = _refusal(
        lambda: stub.ListDocuments(
            pb.ListDocumentsRequest(dossier_id=dossier.dossier_id),
            metadata=dossier.professional(STRANGER),
        )
    )
    calls: list[tuple[Any, Any]] = [
        (_as_dict(unary.initial_metadata()), _as_dict(unary.trailing_metadata())),
        (initial, _as_dict(streamed.trailing_metadata())),
        (_as_dict(refused.initial_metadata()), _as_dict(refused.trailing_metadata())),
    ]
    ids = [first["x-request-id"] for first, _ in calls]
    assert [last["x-request-id"] for _, last in calls] == ids
    assert len(set(ids)) == 3
    assert all(uuid.UUID(i) for i in ids)


def _reflect(
    channel: grpc.Channel, service: str, request: reflection_pb2.ServerReflectionRequest
) -> Any:
    """A raw call to `service`'s ServerReflectionInfo (no generated stub)."""
    call = channel.stream_stream(
        f"/{service}/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    [reply] = list(call(iter([request])))
    return reply


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
def test_reflection_answers_as_v1_and_v1alpha(
    running_vault: RunningVault, channel: grpc.Channel, version: str
) -> None:
    service = f"grpc.reflection.{version}.ServerReflection"
    listing = _reflect(channel, service, reflection_pb2.ServerReflectionRequest(list_services=""))
    names = {s.name for s in listing.list_services_response.service}
    assert names == {
        "vault.v1.DossierVault",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    for name in sorted(names):
        found = _reflect(
            channel, service, reflection_pb2.ServerReflectionRequest(file_containing_symbol=name)
        )
        assert found.file_descriptor_response.file_descriptor_proto, name
