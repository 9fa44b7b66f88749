"""Patient copy archive v2: layout, round trip, integrity checks, determinism, zip64 and
constant memory (docs/format.md, "Patient copy archive v2")."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import tempfile
import tracemalloc
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.archive import (
    HISTORY,
    INDEX,
    MANIFEST,
    METADATA,
    README,
    build_archive,
    document_file_name,
    extension,
)
from vault.domain.model import (
    ActorKind,
    Author,
    Document,
    DocumentCategory,
    DocumentFormat,
    DocumentMetadata,
    DocumentStatus,
    Dossier,
    DossierState,
    Visibility,
)
from vault.errors import FailedPreconditionError, IntegrityError, InvalidArgumentError

DOSSIER = Dossier(
    uuid.UUID("01a214a7-83c6-7298-9bfd-b41ded0f71a0"),
    DossierState.ACTIVE,
    datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
)
CREATED = datetime(2025, 11, 24, 16, 0, 0, tzinfo=UTC)
MiB = 1024 * 1024
MEDIA_TYPES = [
    "application/pdf",
    "text/xml",
    "application/json",
    "text/plain",
    "image/jpeg",
    "image/png",
    "application/dicom",
    "application/x-unknown",
]
HOSTILE_TITLE = "<script>alert(1)</script> ../../etc/passwd\x00 \"quoted\" & 'x' \u202egnp.exe"


def make_document(
    data: bytes,
    *,
    title: str = "Compte rendu",
    media_type: str = "application/pdf",
    day: int = 1,
    document_id: uuid.UUID | None = None,
    category: DocumentCategory = DocumentCategory.REPORTS,
    visibility: Visibility = Visibility.NORMAL,
) -> Document:
    return Document(
        dossier_id=DOSSIER.dossier_id,
        document_id=document_id or uuid.uuid4(),
        version=1,
        metadata=DocumentMetadata(title, category, media_type),
        size=len(data),
        sha256=hashlib.sha256(data).digest(),
        created_at=datetime(2025, 1, day, 9, 30, tzinfo=UTC),
        visibility=visibility,
    )


class Library:
    """Documents and their contents, read in chunks as the service would."""

    def __init__(self, contents: list[tuple[Document, bytes]], chunk: int = 7) -> None:
        self.contents = {(d.document_id, d.version): data for d, data in contents}
        self.documents = [d for d, _ in contents]
        self.chunk = chunk
        self.reads: list[uuid.UUID] = []

    def read(self, document: Document) -> Iterator[bytes]:
        self.reads.append(document.document_id)
        data = self.contents[(document.document_id, document.version)]
        for start in range(0, len(data), self.chunk):
            yield data[start : start + self.chunk]


def build(
    contents: list[tuple[Document, bytes]],
    history: Iterable[Mapping[str, object]] = (),
    *,
    created_at: datetime = CREATED,
    chunk_size: int = 4096,
) -> bytes:
    library = Library(contents)
    chunks = build_archive(
        DOSSIER, library.documents, library.read, history, created_at, chunk_size=chunk_size
    )
    return b"".join(chunks)


def open_zip(archive: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(archive))


def sample_contents() -> list[tuple[Document, bytes]]:
    """Three documents, listed out of date order."""
    specs = [
        (b"%PDF-1.7 report", "application/pdf", 3),
        (b"<ClinicalDocument/>" * 50, "text/xml", 1),
        (b"\xff\xd8\xff jpeg", "image/jpeg", 2),
    ]
    return [(make_document(data, media_type=t, day=day), data) for data, t, day in specs]


def collect(stream: Iterable[bytes], received: bytearray) -> None:
    """Keep what a client would have received before the stream failed."""
    for chunk in stream:
        received += chunk


def extract_versions(data: bytes) -> dict[str, int]:
    """Each entry's "version needed to extract", read from its local header."""
    found = {}
    for info in open_zip(data).infolist():
        offset = info.header_offset
        found[info.filename] = int.from_bytes(data[offset + 4 : offset + 6], "little")
    return found


def expected_names(documents: Sequence[Document]) -> list[str]:
    ordered = sorted(documents, key=lambda d: (d.created_at, d.document_id.bytes, d.version))
    files = [document_file_name(n, d.metadata.media_type) for n, d in enumerate(ordered, 1)]
    return [README, INDEX, METADATA, *files, HISTORY, MANIFEST]


HISTORY_ENTRIES: list[dict[str, object]] = [
    {"seq": 1, "action": "document.read", "actor_kind": "professional", "emergency": False},
    {"seq": 2, "action": "dossier.read", "actor_kind": "patient", "documents": ["a", "b"]},
]


# --- layout and round trip -------------------------------------------------------------


def test_archive_holds_exactly_the_expected_files_in_order() -> None:
    contents = sample_contents()
    names = open_zip(build(contents, HISTORY_ENTRIES)).namelist()
    assert names == expected_names([d for d, _ in contents])
    assert names[3:6] == [
        "IHE_XDM/SUBSET01/DOC00001.xml",  # the oldest document comes first
        "IHE_XDM/SUBSET01/DOC00002.jpg",
        "IHE_XDM/SUBSET01/DOC00003.pdf",
    ]


def test_each_document_reads_back_byte_for_byte() -> None:
    contents = sample_contents()
    archive = open_zip(build(contents))
    metadata = json.loads(archive.read(METADATA))
    by_id = {str(d.document_id): data for d, data in contents}
    for record in metadata["documents"]:
        assert archive.read(record["file"]) == by_id[record["document_id"]]
    assert archive.testzip() is None


def test_metadata_describes_every_document() -> None:
    document = make_document(
        b"hello",
        title="Vaccin antitétanique",
        media_type="text/plain; charset=utf-8",
        category=DocumentCategory.VACCINATION,
        visibility=Visibility.MASKED_FROM_PROFESSIONALS | Visibility.HIDDEN_FROM_REPRESENTATIVES,
    )
    metadata = json.loads(open_zip(build([(document, b"hello")])).read(METADATA))
    assert metadata["format"] == "dvlt-patient-copy/2"
    assert metadata["created_at"] == "2025-11-24T16:00:00.000000Z"
    assert metadata["dossier"] == {
        "dossier_id": str(DOSSIER.dossier_id),
        "state": "active",
        "created_at": "2024-01-02T03:04:05.000000Z",
    }
    assert metadata["documents"] == [
        {
            "file": "IHE_XDM/SUBSET01/DOC00001.txt",
            "document_id": str(document.document_id),
            "version": 1,
            "status": "current",
            "title": "Vaccin antitétanique",
            "category": "vaccination",
            "type_code": None,
            "care_date": None,
            "format": None,
            "media_type": "text/plain; charset=utf-8",
            "author": None,
            "size": 5,
            "sha256": hashlib.sha256(b"hello").hexdigest(),
            "created_at": "2025-01-01T09:30:00.000000Z",
            "visibility": ["masked_from_professionals", "hidden_from_representatives"],
        }
    ]


def test_metadata_carries_the_document_model_and_every_version() -> None:
    first = replace(
        make_document(b"v1", day=1),
        status=DocumentStatus.DEPRECATED,
        metadata=DocumentMetadata(
            "Compte rendu",
            DocumentCategory.REPORTS,
            "application/pdf",
            type_code="11488-4",
            care_date=datetime(2025, 3, 14, tzinfo=timezone(timedelta(hours=1))),
            format=DocumentFormat.PDF,
        ),
        author=Author(ActorKind.PROFESSIONAL, "10101010101", "physician", "cardiology"),
    )
    second = replace(
        first,
        version=2,
        sha256=hashlib.sha256(b"v2").digest(),
        status=DocumentStatus.CURRENT,
        author=Author(ActorKind.PATIENT),
        created_at=first.created_at + timedelta(days=1),
    )
    zipped = open_zip(build([(second, b"v2"), (first, b"v1")]))
    records = json.loads(zipped.read(METADATA))["documents"]
    index = zipped.read(INDEX).decode()
    assert [(r["version"], r["status"]) for r in records] == [(1, "deprecated"), (2, "current")]
    assert [zipped.read(r["file"]) for r in records] == [b"v1", b"v2"]
    assert records[0]["type_code"] == "11488-4"
    assert records[0]["care_date"] == "2025-03-13T23:00:00.000000Z"
    assert records[0]["format"] == "pdf"
    assert records[0]["author"] == {
        "kind": "professional",
        "rpps": "10101010101",
        "profession": "physician",
        "specialty": "cardiology",
    }
    assert records[1]["author"] == {
        "kind": "patient",
        "rpps": None,
        "profession": None,
        "specialty": None,
    }
    assert "<td>1 (remplacée / replaced)</td>" in index
    assert "<td>2</td>" in index


def test_a_date_of_care_without_a_time_zone_is_refused() -> None:
    document = make_document(b"x")
    naive = replace(document.metadata, care_date=datetime(2025, 3, 14))
    with pytest.raises(InvalidArgumentError):
        build([(replace(document, metadata=naive), b"x")])


def test_manifest_gives_the_sha256_and_size_of_every_other_file() -> None:
    archive = open_zip(build(sample_contents(), HISTORY_ENTRIES))
    manifest = json.loads(archive.read(MANIFEST))
    assert manifest["format"] == "dvlt-patient-copy/2"
    assert manifest["algorithm"] == "sha256"
    assert [f["name"] for f in manifest["files"]] == archive.namelist()[:-1]
    for listed in manifest["files"]:
        data = archive.read(listed["name"])
        assert listed == {
            "name": listed["name"],
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }


def test_history_is_a_json_array_with_one_entry_per_line() -> None:
    text = open_zip(build([], HISTORY_ENTRIES)).read(HISTORY).decode()
    assert json.loads(text) == HISTORY_ENTRIES
    lines = text.split("\n")
    assert lines[0] == "["
    assert lines[-2:] == ["]", ""]
    assert [json.loads(line.rstrip(",")) for line in lines[1:-2]] == HISTORY_ENTRIES


def test_empty_dossier_gives_a_complete_archive() -> None:
    archive = open_zip(build([]))
    assert archive.namelist() == [README, INDEX, METADATA, HISTORY, MANIFEST]
    assert json.loads(archive.read(METADATA))["documents"] == []
    assert archive.read(HISTORY) == b"[\n]\n"
    assert "No documents" in archive.read(INDEX).decode()
    assert archive.testzip() is None


def test_readme_is_plain_ascii_in_french_and_english_without_health_data() -> None:
    contents = [(make_document(b"x", title="Diagnostic secret"), b"x")]
    readme = open_zip(build(contents)).read(README)
    text = readme.decode("ascii")
    assert "COPIE DE VOTRE DOSSIER" in text
    assert "COPY OF YOUR SHARED MEDICAL RECORD" in text
    assert "Diagnostic secret" not in text
    assert readme.count(b"\r\n") == readme.count(b"\n")


# --- hostile titles ----------------------------------------------------------------------


def test_a_hostile_title_never_reaches_a_file_name_and_is_escaped_in_the_index() -> None:
    document = make_document(b"x", title=HOSTILE_TITLE, media_type="text/html")
    archive = open_zip(build([(document, b"x")]))
    for name in archive.namelist():
        assert re.fullmatch(r"[A-Z0-9_]+(/[A-Z0-9_]+)*\.[A-Za-z0-9]+", name), name
    assert archive.namelist()[3] == "IHE_XDM/SUBSET01/DOC00001.bin"
    index = archive.read(INDEX).decode()
    assert "<script" not in index
    assert "&lt;script&gt;alert(1)&lt;/script&gt; ../../etc/passwd\ufffd" in index
    assert "&quot;quoted&quot; &amp; &#x27;x&#x27;" in index
    assert "<bdi>" in index  # the right-to-left override stays inside its cell
    assert "\x00" not in index
    assert json.loads(archive.read(METADATA))["documents"][0]["title"] == HOSTILE_TITLE


def test_a_title_with_a_lone_surrogate_round_trips_in_metadata() -> None:
    document = make_document(b"x", title="a\ud800b")
    archive = open_zip(build([(document, b"x")]))
    assert json.loads(archive.read(METADATA))["documents"][0]["title"] == "a\ud800b"
    assert "a\ufffdb" in archive.read(INDEX).decode()


@pytest.mark.parametrize(
    ("media_type", "expected"),
    [
        ("application/pdf", "pdf"),
        ("APPLICATION/PDF", "pdf"),
        ("text/xml; charset=UTF-8", "xml"),
        ("application/xml", "xml"),
        ("application/json", "json"),
        ("text/plain", "txt"),
        ("image/jpeg", "jpg"),
        ("image/png", "png"),
        ("application/dicom", "dcm"),
        ("text/html", "bin"),
        ("application/x-msdownload", "bin"),
        ("", "bin"),
    ],
)
def test_the_extension_comes_from_the_media_type_only(media_type: str, expected: str) -> None:
    assert extension(media_type) == expected


def test_text_documents_are_deflated_and_media_stored() -> None:
    contents = [
        (make_document(b"<a/>" * 100, media_type="text/xml", day=1), b"<a/>" * 100),
        (make_document(b"\x89PNG", media_type="image/png", day=2), b"\x89PNG"),
    ]
    infos = open_zip(build(contents)).infolist()
    kinds = {i.filename: i.compress_type for i in infos}
    assert kinds["IHE_XDM/SUBSET01/DOC00001.xml"] == zipfile.ZIP_DEFLATED
    assert kinds["IHE_XDM/SUBSET01/DOC00002.png"] == zipfile.ZIP_STORED
    for name in (README, INDEX, METADATA, HISTORY, MANIFEST):
        assert kinds[name] == zipfile.ZIP_DEFLATED


# --- determinism -------------------------------------------------------------------------


def test_identical_inputs_give_identical_bytes_whatever_the_input_order() -> None:
    contents = sample_contents()
    first = build(contents, HISTORY_ENTRIES)
    assert build(contents, HISTORY_ENTRIES) == first
    assert build(list(reversed(contents)), HISTORY_ENTRIES, chunk_size=13) == first


def test_every_entry_carries_the_archive_time_and_fixed_attributes() -> None:
    paris = timezone(timedelta(hours=1))
    archive = open_zip(
        build(sample_contents(), created_at=datetime(2025, 3, 4, 6, 7, 9, tzinfo=paris))
    )
    for info in archive.infolist():
        assert info.date_time == (2025, 3, 4, 5, 7, 8)  # UTC, even seconds (DOS time)
        assert info.external_attr >> 16 == 0o100644
        assert info.create_system == 3


# --- integrity ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "served",
    [b"%PDF-1.7 report!", b"%PDF-1.7 repor", b"%PDF-1.7 REPORT", b""],
    ids=["longer", "shorter", "same-size-other-bytes", "empty"],
)
def test_content_that_differs_from_its_record_raises_integrity_error(served: bytes) -> None:
    document = make_document(b"%PDF-1.7 report")
    library = Library([(document, served)])
    stream = build_archive(DOSSIER, [document], library.read, [], CREATED, chunk_size=64)
    received = bytearray()
    with pytest.raises(IntegrityError) as raised:
        collect(stream, received)
    assert str(document.document_id) in str(raised.value)
    assert "report" not in str(raised.value).lower()  # no title, no content in messages
    with pytest.raises(zipfile.BadZipFile):
        open_zip(bytes(received))


def test_content_longer_than_recorded_is_refused_before_the_excess_is_written() -> None:
    document = make_document(b"abc", media_type="image/png")

    def read(_: Document) -> Iterator[bytes]:
        yield b"abc"
        yield b"SECRET-EXCESS"

    stream = build_archive(DOSSIER, [document], read, [], CREATED, chunk_size=1)
    received = bytearray()
    with pytest.raises(IntegrityError):
        collect(stream, received)
    assert b"SECRET" not in received


def test_the_content_iterator_is_closed_even_when_the_archive_fails() -> None:
    document = make_document(b"abc")
    closed = []

    def read(_: Document) -> Iterator[bytes]:
        try:
            yield b"abX"
        finally:
            closed.append(True)

    with pytest.raises(IntegrityError):
        b"".join(build_archive(DOSSIER, [document], read, [], CREATED))
    assert closed == [True]


def test_documents_are_read_one_at_a_time_when_their_turn_comes() -> None:
    contents = sample_contents()
    library = Library(contents)
    stream = build_archive(DOSSIER, library.documents, library.read, [], CREATED, chunk_size=1)
    next(stream)
    assert library.reads == []
    b"".join(stream)
    ordered = sorted(library.documents, key=lambda d: d.created_at)
    assert library.reads == [d.document_id for d in ordered]


# --- refused arguments -------------------------------------------------------------------


def test_a_document_of_another_dossier_is_refused_before_any_byte() -> None:
    document = replace(make_document(b"x"), dossier_id=uuid.uuid4())
    with pytest.raises(InvalidArgumentError, match="another dossier"):
        build_archive(DOSSIER, [document], Library([]).read, [], CREATED)


def test_a_document_given_twice_is_refused() -> None:
    document = make_document(b"x")
    with pytest.raises(InvalidArgumentError, match="twice"):
        build_archive(DOSSIER, [document, document], Library([]).read, [], CREATED)


@pytest.mark.parametrize(
    "created_at",
    [datetime(2025, 1, 1), datetime(1979, 12, 31, tzinfo=UTC)],
    ids=["naive", "before-1980"],
)
def test_an_archive_time_a_zip_cannot_hold_is_refused(created_at: datetime) -> None:
    with pytest.raises(InvalidArgumentError):
        build_archive(DOSSIER, [], Library([]).read, [], created_at)


def test_a_history_entry_that_is_not_json_is_refused() -> None:
    history = [{"time": datetime(2025, 1, 1, tzinfo=UTC)}]
    with pytest.raises(InvalidArgumentError, match="not JSON"):
        b"".join(build_archive(DOSSIER, [], Library([]).read, history, CREATED))


# --- zip64 and size limits ---------------------------------------------------------------


def test_a_document_over_the_zip64_threshold_is_written_as_zip64_and_reads_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 2 GiB document is too slow for the suite: lowering zipfile's limit takes the
    same code path (zip64 local header, 8-byte data descriptor, zip64 end records)."""
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 8000)
    big = bytes(range(256)) * 40
    contents = [
        (make_document(big, media_type="image/png", day=1), big),
        (make_document(b"small", media_type="image/png", day=2), b"small"),
    ]
    data = build(contents)
    versions = extract_versions(data)
    assert versions["IHE_XDM/SUBSET01/DOC00001.png"] == 45  # zip64
    assert versions["IHE_XDM/SUBSET01/DOC00002.png"] == 20  # only where needed
    archive = open_zip(data)
    assert archive.read("IHE_XDM/SUBSET01/DOC00001.png") == big
    assert archive.testzip() is None
    assert b"PK\x06\x06" in data  # zip64 end of central directory


def test_a_generated_file_over_the_zip32_limit_is_refused_not_truncated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 8000)
    history = ({"seq": n, "action": "document.read"} for n in range(1000))
    with pytest.raises(FailedPreconditionError, match=r"HISTORY\.JSON"):
        b"".join(build_archive(DOSSIER, [], Library([]).read, history, CREATED))


@pytest.mark.skipif(shutil.which("unzip") is None, reason="Info-ZIP unzip not installed")
def test_info_zip_unzip_accepts_the_archive(tmp_path: Path) -> None:
    path = tmp_path / "copy.zip"
    path.write_bytes(build(sample_contents(), HISTORY_ENTRIES))
    result = subprocess.run(["unzip", "-t", str(path)], capture_output=True, check=False)
    assert result.returncode == 0, result.stdout


# --- chunks and memory -------------------------------------------------------------------


def test_chunks_have_exactly_the_chunk_size_except_the_last() -> None:
    library = Library(sample_contents())
    chunks = list(
        build_archive(DOSSIER, library.documents, library.read, [], CREATED, chunk_size=100)
    )
    assert all(len(c) == 100 for c in chunks[:-1])
    assert 0 < len(chunks[-1]) <= 100


@pytest.mark.slow
def test_a_200_mib_document_streams_in_constant_memory() -> None:
    block = bytes(range(256)) * 4096  # 1 MiB
    count = 200
    digest = hashlib.sha256()
    for _ in range(count):
        digest.update(block)
    document = replace(
        make_document(b"", media_type="application/dicom"),
        size=count * len(block),
        sha256=digest.digest(),
    )

    def read(_: Document) -> Iterator[bytes]:
        for _n in range(count):
            yield block

    tracemalloc.start()
    try:
        total = 0
        for chunk in build_archive(DOSSIER, [document], read, [], CREATED):
            total += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total > count * MiB
    assert peak < 8 * MiB, peak  # 1 MiB in, 1 MiB out, and their copies


def test_10000_history_entries_stream_in_constant_memory() -> None:
    def history() -> Iterator[dict[str, object]]:
        for seq in range(1, 10_001):
            yield {
                "seq": seq,
                "action": "document.read",
                "request_id": hashlib.sha256(str(seq).encode()).hexdigest(),
                "documents": [str(uuid.UUID(int=seq * 7919))],
                "prev": hashlib.sha256(str(-seq).encode()).hexdigest(),
                "emergency": False,
            }

    with tempfile.TemporaryFile() as sink:
        tracemalloc.start()
        try:
            size = 64 * 1024
            stream = build_archive(
                DOSSIER, [], Library([]).read, history(), CREATED, chunk_size=size
            )
            for chunk in stream:
                sink.write(chunk)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        sink.seek(0)
        with zipfile.ZipFile(sink) as archive:
            written = archive.getinfo(HISTORY).file_size
            assert len(json.loads(archive.read(HISTORY))) == 10_000
    assert written > 2 * MiB
    assert peak < MiB, peak  # less than half the history: it was never held whole


# --- property: any document set round-trips ----------------------------------------------

documents_strategy = st.lists(
    st.tuples(
        st.uuids(),
        st.text(max_size=40),
        st.sampled_from(list(DocumentCategory)),
        st.sampled_from(MEDIA_TYPES),
        st.binary(max_size=300),
        st.datetimes(
            min_value=datetime(2000, 1, 1),
            max_value=datetime(2030, 1, 1),
            timezones=st.just(UTC),
        ),
        st.integers(min_value=1, max_value=3),
    ),
    max_size=6,
    unique_by=lambda t: t[0],
)
history_strategy = st.lists(
    st.dictionaries(
        st.text(max_size=8),
        st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=12)),
        max_size=4,
    ),
    max_size=5,
)


@settings(max_examples=60, deadline=None)
@given(documents_strategy, history_strategy, st.integers(min_value=1, max_value=2048))
def test_any_document_set_round_trips(
    specs: list[tuple[uuid.UUID, str, DocumentCategory, str, bytes, datetime, int]],
    history: list[dict[str, object]],
    chunk_size: int,
) -> None:
    contents = []
    for document_id, title, category, media_type, data, created, version in specs:
        document = replace(
            make_document(data, title=title, media_type=media_type, category=category),
            document_id=document_id,
            created_at=created,
            version=version,
        )
        contents.append((document, data))
    archive = open_zip(build(contents, history, chunk_size=chunk_size))
    assert archive.namelist() == expected_names([d for d, _ in contents])
    records = {r["document_id"]: r for r in json.loads(archive.read(METADATA))["documents"]}
    for document, data in contents:
        record = records[str(document.document_id)]
        assert archive.read(record["file"]) == data
        assert record["title"] == document.metadata.title
        assert record["sha256"] == document.sha256.hex()
    assert json.loads(archive.read(HISTORY)) == history
    for listed in json.loads(archive.read(MANIFEST))["files"]:
        assert listed["sha256"] == hashlib.sha256(archive.read(listed["name"])).hexdigest()
