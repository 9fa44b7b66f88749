"""Page tokens (`vault.pagetokens`): their payloads byte by byte, the canonical encoding
of the queries they bind, and the refusal of anything this vault did not seal for this
query. The end-to-end cases (a token reused by another search, a forged one) are in
tests/server/test_documents.py and tests/server/test_journal_api.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tools.make_vectors import VECTORS as VECTORS_PATH
from tools.make_vectors import document_query, journal_query, local_key_provider
from vault.crypto.localkeys import LocalKeyFileProvider, create_key_file
from vault.domain.model import DocumentCategory, DocumentQuery, DocumentStatus
from vault.errors import InvalidArgumentError
from vault.index.base import Cursor
from vault.journal.store import EntryFilter
from vault.pagetokens import (
    DocumentPageToken,
    JournalPageToken,
    PageTokens,
    document_query_digest,
    document_query_encoding,
    journal_query_digest,
    journal_query_encoding,
)

DOSSIER = uuid.UUID("0190a4a0-0000-7000-8000-000000000001")
DOCUMENT = uuid.UUID("0190a4a0-0000-7000-8000-000000000002")
SEARCH = DocumentQuery(
    categories=frozenset({DocumentCategory.IMAGING, DocumentCategory.BIOLOGY}),
    type_codes=frozenset({"11502-2"}),
    author="10003456789",
    care_from=datetime(2024, 1, 1, tzinfo=UTC),
)


@pytest.fixture
def tokens(tmp_path: Path) -> PageTokens:
    create_key_file(tmp_path / "keys.json")
    return PageTokens(LocalKeyFileProvider(tmp_path / "keys.json"))


def test_a_document_query_encodes_canonically() -> None:
    assert document_query_encoding(SEARCH) == bytes.fromhex(
        "00000002" "00000007" + b"biology".hex() + "00000007" + b"imaging".hex()
        + "00000001" "00000007" + b"11502-2".hex()
        + "01" "0000000b" + b"10003456789".hex()
        + "01" "00060dd710212000"  # 2024-01-01T00:00:00Z, 1_704_067_200_000_000 µs
        + "00"
        + "00000001" "00000007" + b"current".hex()  # the default: current versions
        + "00"
    )  # fmt: skip
    assert document_query_digest(SEARCH).hex() == "b97848622dae0286e511fbe51bf0b3e2"
    assert document_query_encoding(DocumentQuery()).hex() == (
        "00000000000000000000000000000100000007" + b"current".hex() + "00"
    )


def test_a_document_query_digest_depends_on_each_filter_not_on_set_order() -> None:
    digests = {
        document_query_digest(query)
        for query in (
            SEARCH,
            DocumentQuery(),
            DocumentQuery(author="10003456789"),
            DocumentQuery(type_codes=frozenset({"10003456789"})),
            DocumentQuery(care_until=datetime(2024, 1, 1, tzinfo=UTC)),
            DocumentQuery(statuses=frozenset(DocumentStatus)),
            DocumentQuery(document_id=DOCUMENT),
        )
    }
    assert len(digests) == 7
    reordered = frozenset([DocumentCategory.BIOLOGY, DocumentCategory.IMAGING])
    assert document_query_digest(SEARCH) == document_query_digest(
        DocumentQuery(
            categories=reordered,
            type_codes=SEARCH.type_codes,
            author=SEARCH.author,
            care_from=SEARCH.care_from,
        )
    )


def test_a_journal_query_encodes_canonically_without_its_position() -> None:
    where = EntryFilter(dossier=str(DOSSIER), denials_only=True)
    assert journal_query_encoding(where) == bytes.fromhex(
        "01" "00000024" + str(DOSSIER).encode().hex() + "00" "00" "01"
    )  # fmt: skip
    assert journal_query_encoding(EntryFilter()) == bytes(4)
    assert journal_query_digest(where).hex() == "030a61d565b52cef47f1ca99ef3c3070"
    moved = EntryFilter(dossier=str(DOSSIER), denials_only=True, after_seq=42)
    assert journal_query_digest(moved) == journal_query_digest(where)
    assert journal_query_digest(EntryFilter(actor_ref=str(DOSSIER))) != journal_query_digest(
        EntryFilter(dossier=str(DOSSIER))
    )


def test_payloads_are_laid_out_byte_by_byte() -> None:
    cursor = Cursor(-5, DOCUMENT, 7)
    document = DocumentPageToken.after(DOSSIER, SEARCH, cursor).encode()
    assert document == (
        b"\x01"
        + DOSSIER.bytes
        + document_query_digest(SEARCH)
        + (-5).to_bytes(8, "big", signed=True)
        + DOCUMENT.bytes
        + (7).to_bytes(4, "big")
    )
    assert len(document) == DocumentPageToken.SIZE == 61
    where = EntryFilter(emergency_only=True)
    journal = JournalPageToken.after(9, 12, where).encode()
    assert journal == (
        b"\x02" + (9).to_bytes(8, "big") + (12).to_bytes(8, "big") + journal_query_digest(where)
    )
    assert len(journal) == JournalPageToken.SIZE == 33


def test_a_token_opens_to_what_was_sealed_for_its_query_only(tokens: PageTokens) -> None:
    cursor = Cursor(1_000, DOCUMENT, 2)
    sealed = tokens.seal(DocumentPageToken.after(DOSSIER, SEARCH, cursor))
    opened = tokens.open(sealed, DocumentPageToken)
    assert opened.resume(DOSSIER, SEARCH) == cursor
    with pytest.raises(InvalidArgumentError, match="another query"):
        opened.resume(DOSSIER, DocumentQuery())
    with pytest.raises(InvalidArgumentError, match="another query"):
        opened.resume(DOCUMENT, SEARCH)
    where = EntryFilter(denials_only=True)
    journal = tokens.open(tokens.seal(JournalPageToken.after(3, 8, where)), JournalPageToken)
    assert journal.resume(where) == EntryFilter(denials_only=True, after_seq=3)
    assert journal.last_seq == 8
    with pytest.raises(InvalidArgumentError, match="another query"):
        journal.resume(EntryFilter())


def test_forged_truncated_or_foreign_tokens_are_refused(tokens: PageTokens) -> None:
    sealed = tokens.seal(DocumentPageToken.after(DOSSIER, SEARCH, Cursor(1, DOCUMENT, 1)))
    journal = tokens.seal(JournalPageToken.after(1, 2, EntryFilter()))
    for bad in (sealed[:-4] + "AAAA", sealed[:-2], sealed + "AA", "***", "", journal):
        with pytest.raises(InvalidArgumentError):
            tokens.open(bad, DocumentPageToken)
    with pytest.raises(InvalidArgumentError):
        tokens.open(sealed, JournalPageToken)


# Known answers: tests/vectors/vectors-v1.json (tools/make_vectors.py), read two ways: by
# the code, and by an independent reading of docs/format.md ("Page tokens").

VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text())
QUERIES = {f"document_query_v1: {c['name']}": c for c in VECTORS["document_query_v1"]} | {
    f"journal_query_v1: {c['name']}": c for c in VECTORS["journal_query_v1"]
}


def _spec_string(text: str | None) -> bytes:
    if text is None:
        return b"\x00"
    return b"\x01" + struct.pack(">I", len(text.encode())) + text.encode()


def _spec_set(texts: list[str]) -> bytes:
    items = sorted({text.encode() for text in texts})
    return struct.pack(">I", len(items)) + b"".join(struct.pack(">I", len(i)) + i for i in items)


def _spec_document_encoding(case: dict[str, Any]) -> bytes:
    def moment(us: int | None) -> bytes:
        return b"\x00" if us is None else b"\x01" + struct.pack(">q", us)

    statuses = case["statuses"] or (
        ["current", "deprecated"] if case["document_id"] else ["current"]
    )
    document = case["document_id"]
    return b"".join(
        (
            _spec_set(case["categories"]),
            _spec_set(case["type_codes"]),
            _spec_string(case["author"]),
            moment(case["care_from_us"]),
            moment(case["care_until_us"]),
            _spec_set(statuses),
            b"\x00" if document is None else b"\x01" + uuid.UUID(document).bytes,
        )
    )


def _spec_journal_encoding(case: dict[str, Any]) -> bytes:
    flags = bytes((case["emergency_only"], case["denials_only"]))
    return _spec_string(case["dossier"]) + _spec_string(case["actor_ref"]) + flags


def _spec_digest(label: bytes, encoding: bytes) -> str:
    return hashlib.sha256(label + encoding).digest()[:16].hex()


@pytest.mark.parametrize("case", VECTORS["document_query_v1"], ids=lambda c: c["name"])
def test_document_query_vectors_encode_by_the_code_and_by_the_specification(
    case: dict[str, Any],
) -> None:
    query = document_query(case)
    assert sorted(s.value for s in query.wanted_statuses) == case["statuses_searched"]
    assert document_query_encoding(query).hex() == case["encoding"]
    assert document_query_digest(query).hex() == case["digest"]
    for name in ("care_from", "care_until"):
        moment = case[name] and datetime.fromisoformat(case[name])
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        assert case[f"{name}_us"] == (moment and (moment - epoch) // timedelta(microseconds=1))
    encoding = _spec_document_encoding(case)
    assert encoding.hex() == case["encoding"]
    assert _spec_digest(b"DVLT/v1/document-query\x00", encoding) == case["digest"]


@pytest.mark.parametrize("case", VECTORS["journal_query_v1"], ids=lambda c: c["name"])
def test_journal_query_vectors_encode_by_the_code_and_by_the_specification(
    case: dict[str, Any],
) -> None:
    where = journal_query(case)
    assert journal_query_encoding(where).hex() == case["encoding"]
    assert journal_query_digest(where).hex() == case["digest"]
    encoding = _spec_journal_encoding(case)
    assert encoding.hex() == case["encoding"]
    assert _spec_digest(b"DVLT/v1/journal-query\x00", encoding) == case["digest"]


def _spec_open(case: dict[str, Any]) -> bytes:
    """The payload of a token vector, authenticated as docs/format.md says."""
    token = case["token"]
    assert not set(token) & set("=+/")  # base64url, unpadded
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    payload, tag = raw[:-16], raw[-16:]
    label = b"DVLT/v1/page-token\x00"
    key = bytes.fromhex(case["index_key"])
    assert hmac.new(key, label + payload, "sha256").digest()[:16] == tag
    assert (payload.hex(), tag.hex()) == (case["payload"], case["tag"])
    assert payload[0] == case["purpose"]
    return payload


def test_the_document_token_vector_by_the_specification_and_by_the_code() -> None:
    case = VECTORS["page_token_v1"][0]
    payload = _spec_open(case)
    assert (len(payload), len(case["token"])) == (61, 103)
    _, dossier, digest, created_us, document, version = struct.unpack(">B16s16sq16sI", payload)
    search = QUERIES[case["query"]]
    assert (uuid.UUID(bytes=dossier), uuid.UUID(bytes=document)) == (
        uuid.UUID(case["dossier_id"]),
        uuid.UUID(case["document_id"]),
    )
    assert (digest.hex(), created_us, version) == (
        search["digest"],
        case["document_created_us"],
        case["version"],
    )
    cursor = Cursor(created_us, uuid.UUID(case["document_id"]), version)
    token = DocumentPageToken.after(uuid.UUID(case["dossier_id"]), document_query(search), cursor)
    assert token.encode().hex() == case["payload"]
    with local_key_provider(bytes.fromhex(case["index_key"])) as keys:
        tokens = PageTokens(keys)
        assert tokens.seal(token) == case["token"]
        opened = tokens.open(case["token"], DocumentPageToken)
        assert opened.resume(uuid.UUID(case["dossier_id"]), document_query(search)) == cursor
        with pytest.raises(InvalidArgumentError, match="malformed page token"):
            tokens.open(case["token"][:-1] + "A", DocumentPageToken)


def test_the_journal_token_vector_by_the_specification_and_by_the_code() -> None:
    case = VECTORS["page_token_v1"][1]
    payload = _spec_open(case)
    assert (len(payload), len(case["token"])) == (33, 66)
    _, after_seq, last_seq, digest = struct.unpack(">BQQ16s", payload)
    where = QUERIES[case["query"]]
    assert (after_seq, last_seq, digest.hex()) == (
        case["after_seq"],
        case["last_seq"],
        where["digest"],
    )
    token = JournalPageToken.after(after_seq, last_seq, journal_query(where))
    assert token.encode().hex() == case["payload"]
    with local_key_provider(bytes.fromhex(case["index_key"])) as keys:
        tokens = PageTokens(keys)
        assert tokens.seal(token) == case["token"]
        opened = tokens.open(case["token"], JournalPageToken)
        assert opened.resume(journal_query(where)).after_seq == after_seq
        with pytest.raises(InvalidArgumentError, match="malformed page token"):
            tokens.open(case["token"], DocumentPageToken)
    with (
        local_key_provider(bytes(32)) as other_deployment,
        pytest.raises(InvalidArgumentError, match="malformed page token"),
    ):
        PageTokens(other_deployment).open(case["token"], JournalPageToken)
