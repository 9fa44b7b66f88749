"""Hostile input through the real server: bytes that do not decode, values past the
vault's bounds, an upload whose finish contradicts what arrived, and hypothesis-drawn
calls (bench/fuzz_server.py's harness, 150 examples per backend here): each ends in a
precise status, never UNKNOWN or INTERNAL, with exactly one journal entry, and the
journal still verifies (ADR 0013)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import grpc
import pytest
from google.protobuf.message import Message

from bench.fuzz_server import BUGS, Shot, Target, fire, journal_problems, prepare, run_shots, same
from bench.fuzz_server import main as fuzz_main
from tests.conftest import RunningVault
from vault.client import VaultClient
from vault.v1 import vault_pb2 as pb

UNDECODABLE = b"\xff\xff\xff"  # field 0x3fff..., wire type 7: no message has it
INVALID = grpc.StatusCode.INVALID_ARGUMENT
TOO_FAR = 2**62  # seconds: far past year 9999


@pytest.fixture
def target(running_vault: RunningVault) -> Target:
    """The server (SQLite, then PostgreSQL) with a dossier and a document to name."""
    return prepare(running_vault.server)


def _send(target: Target, method: str, *messages: Message | bytes, token: str = "") -> Shot:
    payloads = tuple(m if isinstance(m, bytes) else m.SerializeToString() for m in messages)
    return Shot(method, token or target.patient, payloads)


def _fire(target: Target, shot: Shot) -> tuple[grpc.StatusCode, str, str]:
    with grpc.insecure_channel(target.address) as channel:
        outcome = fire(channel, shot)
    assert outcome.request_id is not None  # the edge answered, not grpc's own code
    return outcome.status, outcome.details, outcome.request_id


def _entries(target: Target, request_id: str) -> list[dict[str, object]]:
    """The journal entries of one request."""
    with VaultClient(target.address, target.auditor) as client:
        records = [json.loads(line) for line in client.export_journal()]
    return [r["entry"] for r in records if "entry" in r and r["entry"]["request_id"] == request_id]


def _refused_once(target: Target, request_id: str, reason: str = "invalid-argument") -> None:
    (entry,) = _entries(target, request_id)
    assert (entry["decision"], entry["reason"]) == ("deny", reason)
    assert journal_problems(target, [request_id]) == []


def _header(target: Target, **fields: object) -> pb.PutDocumentRequest:
    metadata = pb.DocumentMetadata(
        title="t", category=pb.DOCUMENT_CATEGORY_REPORTS, media_type="text/plain"
    )
    header = pb.PutDocumentHeader(dossier_id=target.dossier, metadata=metadata, **fields)  # type: ignore[arg-type]
    return pb.PutDocumentRequest(header=header)


def _listed(target: Target) -> int:
    with VaultClient(target.address, target.patient) as client:
        return len(client.list_documents(target.dossier).documents)


# -- bytes that do not decode ---------------------------------------------------------


@pytest.mark.parametrize(
    "method", ["CreateDossier", "ChangeAccess", "GetDocument", "ExportJournal", "CloseDossier"]
)
def test_a_request_that_does_not_decode_is_invalid_and_journaled_once(
    target: Target, method: str
) -> None:
    status, details, request_id = _fire(target, _send(target, method, UNDECODABLE))
    assert (status, details) == (INVALID, "the request did not decode")
    _refused_once(target, request_id)


@pytest.mark.parametrize("position", [0, 1, 2], ids=["first", "after-header", "after-chunk"])
def test_an_upload_message_that_does_not_decode_is_invalid_and_stores_nothing(
    target: Target, position: int
) -> None:
    content = b"abc"
    finish = pb.PutDocumentFinish(size=3, sha256=hashlib.sha256(content).digest())
    stream: list[Message | bytes] = [
        _header(target),
        pb.PutDocumentRequest(chunk=content),
        pb.PutDocumentRequest(finish=finish),
    ]
    stream.insert(position, UNDECODABLE)
    status, details, request_id = _fire(target, _send(target, "PutDocument", *stream))
    assert (status, details) == (INVALID, "the request did not decode")
    assert _listed(target) == 1  # the document `prepare` stored, nothing more
    assert len(_entries(target, request_id)) == 1
    assert journal_problems(target, [request_id]) == []


def test_an_undecodable_request_without_a_valid_token_is_unauthenticated_and_journaled(
    target: Target,
) -> None:
    shot = _send(target, "GetDossier", UNDECODABLE, token="not-a-token")
    status, _, request_id = _fire(target, shot)
    assert status is grpc.StatusCode.UNAUTHENTICATED
    _refused_once(target, request_id, "unauthenticated")


def test_health_is_not_refused_by_the_vaults_decoding(running_vault: RunningVault) -> None:
    with grpc.insecure_channel(running_vault.server.target) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check", same, same)
        with pytest.raises(grpc.RpcError) as caught:
            check(UNDECODABLE, timeout=5)
    assert caught.value.code() is not INVALID  # grpc's own answer: not the vault's service


# -- values past the bounds -----------------------------------------------------------


def _bounds_cases(target: Target) -> dict[str, tuple[str, Message]]:
    def care(**stamp: int) -> pb.PutDocumentRequest:
        request = _header(target)
        for name, value in stamp.items():
            setattr(request.header.metadata.care_date, name, value)
        return request

    listing = pb.ListDocumentsRequest(dossier_id=target.dossier)
    far_listing, bad_nanos_listing = pb.ListDocumentsRequest(), pb.ListDocumentsRequest()
    far_listing.CopyFrom(listing)
    far_listing.care_from.seconds = TOO_FAR
    bad_nanos_listing.CopyFrom(listing)
    bad_nanos_listing.care_until.nanos = 1_000_000_000
    since, until = pb.ExportJournalRequest(), pb.ExportJournalRequest()
    since.since.seconds = -TOO_FAR
    until.until.nanos = -1
    replaced = _header(target, replaces=pb.DocumentVersionRef(document_id=target.document))
    replaced.header.replaces.version = 2**32 - 1
    return {
        "care-date-far-future": ("PutDocument", care(seconds=TOO_FAR)),
        "care-date-far-past": ("PutDocument", care(seconds=-TOO_FAR)),
        "care-date-negative-nanos": ("PutDocument", care(seconds=0, nanos=-1)),
        "care-date-nanos-past-a-second": ("PutDocument", care(seconds=0, nanos=10**9)),
        "listing-care-from-far-future": ("ListDocuments", far_listing),
        "listing-care-until-nanos": ("ListDocuments", bad_nanos_listing),
        "export-since-far-past": ("ExportJournal", since),
        "export-until-negative-nanos": ("ExportJournal", until),
        "export-from-seq-2^63": ("ExportJournal", pb.ExportJournalRequest(from_seq=2**63)),
        "export-to-seq-2^64-1": ("ExportJournal", pb.ExportJournalRequest(to_seq=2**64 - 1)),
        "get-version-2^32-1": (
            "GetDocument",
            pb.GetDocumentRequest(
                dossier_id=target.dossier, document_id=target.document, version=2**32 - 1
            ),
        ),
        "replaces-version-2^32-1": ("PutDocument", replaced),
        "hold-id-2^63": (
            "ReleaseHold",
            pb.ReleaseHoldRequest(dossier_id=target.dossier, hold_id=2**63, reason="x"),
        ),
        "notifications-after-2^64-1": (
            "ListNotifications",
            pb.ListNotificationsRequest(dossier_id=target.dossier, after_id=2**64 - 1),
        ),
        "actor-ref-with-nul": ("QueryJournal", pb.QueryJournalRequest(actor_ref="a\x00b")),
    }


BOUNDS_CASES = [
    "care-date-far-future",
    "care-date-far-past",
    "care-date-negative-nanos",
    "care-date-nanos-past-a-second",
    "listing-care-from-far-future",
    "listing-care-until-nanos",
    "export-since-far-past",
    "export-until-negative-nanos",
    "export-from-seq-2^63",
    "export-to-seq-2^64-1",
    "get-version-2^32-1",
    "replaces-version-2^32-1",
    "hold-id-2^63",
    "notifications-after-2^64-1",
    "actor-ref-with-nul",
]


@pytest.mark.parametrize("case", BOUNDS_CASES)
def test_a_value_past_the_storage_bounds_is_invalid_and_journaled_once(
    target: Target, case: str
) -> None:
    method, message = _bounds_cases(target)[case]
    token = target.auditor if method in ("ExportJournal", "QueryJournal") else ""
    stream = [message] if method != "PutDocument" else [message, pb.PutDocumentRequest(chunk=b"x")]
    status, details, request_id = _fire(target, _send(target, method, *stream, token=token))
    assert status is INVALID, details
    assert "is above" in details or "valid timestamp" in details or "NUL" in details
    _refused_once(target, request_id)


def test_every_bounds_case_is_listed(target: Target) -> None:
    assert sorted(_bounds_cases(target)) == sorted(BOUNDS_CASES)


# -- an upload that contradicts itself ------------------------------------------------


@pytest.mark.parametrize(
    "finish",
    [
        pb.PutDocumentFinish(size=3, sha256=bytes(32)),
        pb.PutDocumentFinish(size=4, sha256=hashlib.sha256(b"abc").digest()),
    ],
    ids=["wrong-digest", "wrong-size"],
)
def test_a_finish_that_does_not_match_what_arrived_is_invalid_and_stores_nothing(
    target: Target, finish: pb.PutDocumentFinish
) -> None:
    stream = [_header(target), pb.PutDocumentRequest(chunk=b"abc")]
    shot = _send(target, "PutDocument", *stream, pb.PutDocumentRequest(finish=finish))
    status, details, request_id = _fire(target, shot)
    assert status is INVALID  # not DATA_LOSS: nothing stored was damaged
    assert "does not match" in details
    assert _listed(target) == 1
    assert len(_entries(target, request_id)) == 1
    assert journal_problems(target, [request_id]) == []


# -- drawn by hypothesis --------------------------------------------------------------


def test_fuzzed_calls_never_end_unknown_or_internal_and_each_leaves_one_entry(
    target: Target,
) -> None:
    done = run_shots(target, 150, derandomize=True)
    bugs = [(shot, outcome) for shot, outcome in done if outcome.status in BUGS]
    assert bugs == []
    assert {outcome.status for _, outcome in done} - {grpc.StatusCode.OK} <= {
        INVALID,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
    }
    request_ids = [outcome.request_id for _, outcome in done]
    assert None not in request_ids  # every call reached the edge, which answered it
    assert journal_problems(target, [r for r in request_ids if r is not None]) == []


def test_the_longer_run_counts_statuses_and_finds_no_problem(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert fuzz_main(["--calls", "20", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["calls"] == 20
    assert sum(report["statuses"].values()) == 20
    assert report["problems"] == []
