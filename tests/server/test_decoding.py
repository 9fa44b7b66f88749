"""The bounds every request is held to before its handler runs
(vault/server/decoding.py): named cases at and past each bound, and the deserializer that
turns bytes which do not decode into a refusal instead of an exception."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.message import Message

from vault.server.decoding import Undecodable, lenient_handler, out_of_bounds
from vault.v1 import vault_pb2 as pb


def _care(seconds: int, nanos: int = 0) -> pb.PutDocumentRequest:
    request = pb.PutDocumentRequest()
    request.header.metadata.care_date.seconds = seconds
    request.header.metadata.care_date.nanos = nanos
    return request


WITHIN = {
    "empty": pb.ExportJournalRequest(),
    "from-seq-2^63-1": pb.ExportJournalRequest(from_seq=2**63 - 1),
    "version-2^31-1": pb.GetDocumentRequest(version=2**31 - 1),
    "page-size-2^31-1": pb.QueryJournalRequest(page_size=2**31 - 1),
    "care-date-year-9999": _care(253_402_300_799, 999_999_999),
    "care-date-year-1": _care(-62_135_596_800),
    "chunk-with-nul-bytes": pb.PutDocumentRequest(chunk=b"\x00" * 64),
    "unicode-title": pb.PutDocumentRequest(
        header=pb.PutDocumentHeader(metadata=pb.DocumentMetadata(title="Compte rendu é"))
    ),
}
PAST = {
    "from-seq-2^63": (pb.ExportJournalRequest(from_seq=2**63), "from_seq is above 2^63-1"),
    "version-2^31": (pb.GetDocumentRequest(version=2**31), "version is above 2^31-1"),
    "page-size-2^32-1": (
        pb.QueryJournalRequest(page_size=2**32 - 1),
        "page_size is above 2^31-1",
    ),
    "replaces-version": (
        pb.PutDocumentRequest(
            header=pb.PutDocumentHeader(replaces=pb.DocumentVersionRef(version=2**32 - 1))
        ),
        "header.replaces.version is above 2^31-1",
    ),
    "finish-size-2^64-1": (
        pb.PutDocumentRequest(finish=pb.PutDocumentFinish(size=2**64 - 1)),
        "finish.size is above 2^63-1",
    ),
    "care-date-2^62": (_care(2**62), "header.metadata.care_date is not a valid timestamp"),
    "care-date-nanos": (_care(0, -1), "header.metadata.care_date is not a valid timestamp"),
    "repeated-string-with-nul": (
        pb.ListDocumentsRequest(type_codes=["11506-3", "a\x00"]),
        "type_codes contains a NUL character",
    ),
}


@pytest.mark.parametrize("name", sorted(WITHIN))
def test_values_within_the_bounds_pass(name: str) -> None:
    assert out_of_bounds(WITHIN[name]) is None


@pytest.mark.parametrize("name", sorted(PAST))
def test_a_value_past_its_bound_is_named_by_its_field(name: str) -> None:
    message, reason = PAST[name]
    assert out_of_bounds(message) is not None
    assert str(out_of_bounds(message) or "").startswith(reason)


def _decode(message_type: type[Message], data: bytes) -> object:
    async def behavior(request: object, context: object) -> object:
        return request

    handler = lenient_handler(
        grpc.unary_unary_rpc_method_handler(behavior, request_deserializer=message_type.FromString)
    )
    return handler.request_deserializer(data)  # type: ignore[misc]


def test_bytes_that_do_not_decode_become_a_refusal_not_an_exception() -> None:
    refused = _decode(pb.CreateDossierRequest, b"\xff\xff\xff")
    assert isinstance(refused, Undecodable)
    assert str(refused.error) == "the request did not decode"
    assert refused.empty == pb.CreateDossierRequest()


def test_a_string_that_is_not_utf8_does_not_decode() -> None:
    refused = _decode(pb.CreateDossierRequest, b"\x0a\x02\xff\xfe")
    assert isinstance(refused, Undecodable)


def test_a_message_past_the_bounds_becomes_a_refusal_naming_the_field() -> None:
    data = pb.ExportJournalRequest(from_seq=2**63).SerializeToString()
    refused = _decode(pb.ExportJournalRequest, data)
    assert isinstance(refused, Undecodable)
    assert str(refused.error) == "from_seq is above 2^63-1"


def test_a_message_within_the_bounds_decodes_as_itself() -> None:
    message = pb.ExportJournalRequest(from_seq=7)
    assert _decode(pb.ExportJournalRequest, message.SerializeToString()) == message
