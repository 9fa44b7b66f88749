"""The patient's copy of a dossier: a streamed zip in the spirit of IHE XDM (ITI-32).

`build_archive` turns what the service hands over (the dossier, the documents the
patient side may see, a reader of their authenticated plaintext, the access history)
into the bytes of a zip archive, chunk by chunk, in constant memory: one content chunk,
one output chunk and a few hundred bytes of bookkeeping per file (the zip's central
directory and the manifest). The layout and every file's format are normative, in
docs/format.md, "Patient copy archive v2":

    README.TXT                          what the archive is (French and English)
    INDEX.HTM                           static HTML table of the documents
    IHE_XDM/SUBSET01/METADATA.JSON      every document's metadata
    IHE_XDM/SUBSET01/DOC00001.<ext> ... the documents (every version), oldest first
    HISTORY.JSON                        the access history, one entry per line
    MANIFEST.JSON                       SHA-256 and size of every other file

Each document's bytes are checked against its recorded size and SHA-256 while they
stream; a mismatch raises `IntegrityError` before the entry is completed, so what was
yielded has no central directory and no zip reader opens it. Identical inputs give
identical bytes (fixed order, fixed timestamps and attributes, one zlib).

What it does not do: no I/O, no decryption, no access decision. The caller filters the
documents and history entries the requester may see, reads and authenticates content,
journals the export, and ends the stream with an error status if this generator raises.
It holds no keys and writes none. Pure: no grpc, sqlalchemy or boto3.
"""

from __future__ import annotations

import hashlib
import html
import json
import stat
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from vault.domain.model import (
    Author,
    Document,
    DocumentCategory,
    DocumentStatus,
    Dossier,
    Visibility,
)
from vault.errors import FailedPreconditionError, IntegrityError, InvalidArgumentError

FORMAT = "dvlt-patient-copy/2"
CHUNK_SIZE = 1024 * 1024  # the gRPC chunk size used everywhere else
SUBSET = "IHE_XDM/SUBSET01/"
README = "README.TXT"
INDEX = "INDEX.HTM"
METADATA = SUBSET + "METADATA.JSON"
HISTORY = "HISTORY.JSON"
MANIFEST = "MANIFEST.JSON"

ContentReader = Callable[[Document], Iterable[bytes]]

_FILE_MODE = (stat.S_IFREG | 0o644) << 16
_UNIX = 3  # ZipInfo.create_system, so that the mode above is read as Unix permissions
_EXTENSIONS = {
    "application/pdf": "pdf",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/json": "json",
    "text/plain": "txt",
    "image/jpeg": "jpg",
    "image/png": "png",
    "application/dicom": "dcm",
}
_DEFLATED_EXTENSIONS = frozenset({"xml", "json", "txt"})
_STATUS_LABELS = {
    DocumentStatus.CURRENT: "",
    DocumentStatus.DEPRECATED: " (remplacée / replaced)",
}
_CATEGORY_LABELS = {
    DocumentCategory.SYNTHESIS: "Synthèse / Summary",
    DocumentCategory.TREATMENTS_AND_CARE: "Traitements et soins / Treatments and care",
    DocumentCategory.REPORTS: "Comptes rendus / Reports",
    DocumentCategory.IMAGING: "Imagerie médicale / Medical imaging",
    DocumentCategory.BIOLOGY: "Biologie / Laboratory results",
    DocumentCategory.PREVENTION: "Prévention / Prevention",
    DocumentCategory.ADVANCE_DIRECTIVES: "Directives anticipées / Advance directives",
    DocumentCategory.VACCINATION: "Vaccinations / Vaccinations",
    DocumentCategory.REIMBURSEMENT_HISTORY: "Remboursements / Reimbursements",
}


def build_archive(
    dossier: Dossier,
    documents: Sequence[Document],
    read: ContentReader,
    history: Iterable[Mapping[str, object]],
    created_at: datetime,
    *,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[bytes]:
    """The patient copy archive of `dossier`, as chunks of exactly `chunk_size` bytes
    (the last one shorter, never empty), produced while the caller iterates.

    `documents` are the versions to include, in any order (the archive orders them by
    creation time, id and version); `read(document)` is called once per document, when
    its turn comes, and must yield its authenticated plaintext (the returned iterator is
    closed afterwards). `history` is iterated once, entry by entry; each entry must be
    JSON-encodable. `created_at` (timezone-aware) dates the archive and every entry.

    Arguments are checked before this returns (`InvalidArgumentError`: a document of
    another dossier, a duplicate, a naive or out-of-range time). While iterating:
    `IntegrityError` if a document's content differs from its recorded size or SHA-256,
    `InvalidArgumentError` for a history entry that is not JSON, `FailedPreconditionError`
    if a generated file would reach 2 GiB; errors from `read` propagate unchanged. After
    any error the bytes already yielded are not a readable zip: end the stream with an
    error status. Memory is bounded by one content chunk, about twice `chunk_size`, zlib's
    state and a few hundred bytes per document, whatever the sizes and the history's length.
    """
    if chunk_size < 1:
        raise InvalidArgumentError("chunk size must be positive")
    when = _zip_time(created_at)
    ordered = _ordered(dossier, documents)
    return _rechunk(_pieces(dossier, ordered, read, history, when), chunk_size)


def document_file_name(number: int, media_type: str) -> str:
    """The opaque name of the `number`th document (from 1): never derived from its title."""
    return f"{SUBSET}DOC{number:05d}.{extension(media_type)}"


def extension(media_type: str) -> str:
    """The file extension for a media type; `bin` for any type not listed."""
    return _EXTENSIONS.get(_essence(media_type), "bin")


@dataclass(frozen=True, slots=True)
class _ManifestEntry:
    """One file of the archive as MANIFEST.JSON lists it."""

    name: str
    size: int
    sha256: bytes


@dataclass(frozen=True, slots=True)
class _Planned:
    """A document in its place in the archive."""

    name: str
    document: Document


def _pieces(
    dossier: Dossier,
    documents: Sequence[_Planned],
    read: ContentReader,
    history: Iterable[Mapping[str, object]],
    when: datetime,
) -> Iterator[bytes]:
    writer = _ZipWriter(when)
    yield from writer.entry(README, [_readme(dossier, when)])
    yield from writer.entry(INDEX, _index(documents, when))
    yield from writer.entry(METADATA, _metadata(dossier, documents, when))
    for planned in documents:
        yield from _document_entry(writer, planned, read)
    yield from writer.entry(HISTORY, _history(history))
    yield from writer.entry(MANIFEST, _manifest(tuple(writer.manifest)))
    yield from writer.close()


def _document_entry(writer: _ZipWriter, planned: _Planned, read: ContentReader) -> Iterator[bytes]:
    document = planned.document
    content = read(document)
    try:
        deflate = extension(document.metadata.media_type) in _DEFLATED_EXTENSIONS
        checked = _checked(document, content)
        yield from writer.entry(
            planned.name, checked, deflate=deflate, size=document.size, sha256=document.sha256
        )
    finally:
        close = getattr(content, "close", None)
        if callable(close):
            close()


def _checked(document: Document, content: Iterable[bytes]) -> Iterator[bytes]:
    """The content, refused as soon as it is longer than recorded, and at its end if it
    is shorter or hashes differently (before the zip entry is completed)."""
    digest, size = hashlib.sha256(), 0
    for chunk in content:
        size += len(chunk)
        if size > document.size:
            raise IntegrityError(f"document {_ref(document)}: content longer than recorded")
        digest.update(chunk)
        yield chunk
    if size != document.size:
        raise IntegrityError(f"document {_ref(document)}: content shorter than recorded")
    if digest.digest() != document.sha256:
        raise IntegrityError(f"document {_ref(document)}: content does not match its SHA-256")


class _Sink:
    """Where zipfile writes: an unseekable stream (no `tell`), so zipfile streams each
    entry with a data descriptor and never seeks back. Output waits here until drained."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._pending.append(bytes(data))  # zipfile may hand over the caller's buffer
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def drain(self) -> list[bytes]:
        pending, self._pending = self._pending, []
        return pending


class _ZipWriter:
    """A zip written entry by entry into a `_Sink`, recording each entry's SHA-256 and
    size for the manifest."""

    def __init__(self, when: datetime) -> None:
        self._date_time = (when.year, when.month, when.day, when.hour, when.minute, when.second)
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, "w", allowZip64=True)
        self.manifest: list[_ManifestEntry] = []

    def entry(
        self,
        name: str,
        pieces: Iterable[bytes],
        *,
        deflate: bool = True,
        size: int = 0,
        sha256: bytes | None = None,
    ) -> Iterator[bytes]:
        """Write one file. `size`, when known, lets zipfile use zip64 for this entry
        exactly when the file needs it; files of unknown size stay under 2 GiB (zipfile's
        zip32 limit, 2**31 - 1). `sha256`,
        when given, is what `pieces` check themselves (a document's content is not hashed
        twice)."""
        info = self._info(name, deflate, size)
        limit = zipfile.ZIP64_LIMIT  # read when called, so that tests can lower it
        zip64 = size * 1.05 > limit  # zipfile's own rule, so the guard below agrees
        digest, written = hashlib.sha256(), 0
        with self._zip.open(info, "w") as out:
            for piece in pieces:
                written += len(piece)
                if written > limit and not zip64:
                    raise FailedPreconditionError(f"{name} would exceed 2 GiB")
                if sha256 is None:
                    digest.update(piece)
                out.write(piece)
                yield from self._sink.drain()
        yield from self._sink.drain()
        self.manifest.append(_ManifestEntry(name, written, sha256 or digest.digest()))

    def close(self) -> Iterator[bytes]:
        self._zip.close()
        yield from self._sink.drain()

    def _info(self, name: str, deflate: bool, size: int) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, self._date_time)
        info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
        info.create_system = _UNIX
        info.external_attr = _FILE_MODE
        info.file_size = size
        return info


def _rechunk(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Pieces of any length as chunks of exactly `size` bytes, the last one shorter.
    Nothing is yielded after an error: the pending tail is dropped."""
    buffer = bytearray()
    for piece in pieces:
        if not buffer and len(piece) == size:
            yield piece
            continue
        buffer += piece
        while len(buffer) >= size:
            with memoryview(buffer) as view:
                chunk = view[:size].tobytes()
            del buffer[:size]
            yield chunk
    if buffer:
        yield bytes(buffer)


def _ordered(dossier: Dossier, documents: Sequence[Document]) -> list[_Planned]:
    seen: set[tuple[object, int]] = set()
    for document in documents:
        _check_document(dossier, document)
        key = (document.document_id, document.version)
        if key in seen:
            raise InvalidArgumentError(f"document {_ref(document)} given twice")
        seen.add(key)
    ordered = sorted(documents, key=lambda d: (d.created_at, d.document_id.bytes, d.version))
    return [
        _Planned(document_file_name(n, d.metadata.media_type), d)
        for n, d in enumerate(ordered, start=1)
    ]


def _check_document(dossier: Dossier, document: Document) -> None:
    if document.dossier_id != dossier.dossier_id:
        raise InvalidArgumentError(f"document {_ref(document)} belongs to another dossier")
    if document.size < 0 or len(document.sha256) != hashlib.sha256().digest_size:
        raise InvalidArgumentError(f"document {_ref(document)} has no valid size and SHA-256")
    _aware(document.created_at, "document creation time")
    if document.metadata.care_date is not None:
        _aware(document.metadata.care_date, "date of care")


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidArgumentError(f"{what} must carry a time zone")
    return moment.astimezone(UTC)


def _zip_time(moment: datetime) -> datetime:
    moment = _aware(moment, "archive creation time")
    if not 1980 <= moment.year <= 2107:  # what a zip timestamp can hold
        raise InvalidArgumentError("archive creation time out of range")
    return moment


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ref(document: Document) -> str:
    return f"{document.document_id} v{document.version}"


def _essence(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()


def _json(value: object) -> bytes:
    """Compact JSON with sorted keys, UTF-8; a lone surrogate becomes a `\\uXXXX` escape."""
    text = json.dumps(
        value, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    )
    return text.encode("utf-8", "backslashreplace")


def _json_items(items: Iterable[bytes]) -> Iterator[bytes]:
    """The inside of a JSON array, one item per line: `item,\\n ... item\\n` (or nothing)."""
    first = True
    for item in items:
        yield item if first else b",\n" + item
        first = False
    if not first:
        yield b"\n"


def _readme(dossier: Dossier, when: datetime) -> bytes:
    lines = [
        "COPIE DE VOTRE DOSSIER MEDICAL PARTAGE (DMP)",
        "",
        "Cette archive est la copie de votre dossier, creee a votre demande.",
        "- INDEX.HTM : la liste des documents (ouvrez-le dans un navigateur).",
        "- IHE_XDM/SUBSET01/ : les documents (DOC00001...) et leurs metadonnees",
        "  (METADATA.JSON : titre, categorie, type, taille, empreinte SHA-256, date).",
        "- HISTORY.JSON : l'historique des acces a votre dossier.",
        "- MANIFEST.JSON : l'empreinte SHA-256 et la taille de chaque fichier.",
        "Elle contient des donnees de sante : conservez-la en lieu sur.",
        "",
        "COPY OF YOUR SHARED MEDICAL RECORD (DMP)",
        "",
        "This archive is a copy of your record, made at your request.",
        "- INDEX.HTM: the list of documents (open it in a web browser).",
        "- IHE_XDM/SUBSET01/: the documents (DOC00001...) and their metadata",
        "  (METADATA.JSON: title, category, type, size, SHA-256 digest, date).",
        "- HISTORY.JSON: who accessed your record, and when.",
        "- MANIFEST.JSON: the SHA-256 digest and size of every file.",
        "It holds health data: keep it somewhere safe.",
        "",
        f"Format: {FORMAT}",
        f"Dossier: {dossier.dossier_id}",
        f"Date (UTC): {_iso(when)}",
        "",
    ]
    return "\r\n".join(lines).encode("ascii")


def _index(documents: Sequence[_Planned], when: datetime) -> Iterator[bytes]:
    yield _INDEX_HEAD.format(created=_iso(when)).encode()
    for planned in documents:
        yield _index_row(planned).encode("utf-8")
    if not documents:
        yield b'<tr><td colspan="5">Aucun document / No documents</td></tr>\n'
    yield _INDEX_TAIL.encode()


_INDEX_HEAD = """<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Copie du DMP / Shared medical record copy</title>
</head>
<body>
<h1>Copie de votre dossier médical partagé / Copy of your shared medical record</h1>
<p>Créée le / Created on (UTC): {created}</p>
<table border="1">
<thead><tr><th>Fichier / File</th><th>Titre / Title</th><th>Catégorie / Category</th>\
<th>Date (UTC)</th><th>Version</th></tr></thead>
<tbody>
"""
_INDEX_TAIL = """</tbody>
</table>
</body>
</html>
"""


def _index_row(planned: _Planned) -> str:
    document = planned.document
    href = html.escape(planned.name)  # relative to INDEX.HTM, at the archive's root
    label = html.escape(planned.name.rsplit("/", 1)[1])
    title = html.escape(_displayable(document.metadata.title))
    category = _CATEGORY_LABELS.get(document.metadata.category, document.metadata.category)
    date = document.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    version = f"{document.version}{_STATUS_LABELS[document.status]}"
    return (
        f'<tr><td><a href="{href}">{label}</a></td><td><bdi>{title}</bdi></td>'
        f"<td>{html.escape(category)}</td><td>{date}</td><td>{version}</td></tr>\n"
    )


def _displayable(text: str) -> str:
    """A title for display: control characters and lone surrogates become U+FFFD (the
    title is kept exactly in METADATA.JSON); `<bdi>` isolates bidirectional overrides."""
    return "".join("\ufffd" if unicodedata.category(c) in {"Cc", "Cs"} else c for c in text)


def _metadata(dossier: Dossier, documents: Sequence[_Planned], when: datetime) -> Iterator[bytes]:
    head = {
        "created_at": _iso(when),
        "dossier": {
            "created_at": _iso(dossier.created_at),
            "dossier_id": str(dossier.dossier_id),
            "state": dossier.state.value,
        },
        "format": FORMAT,
    }
    yield _json(head)[:-1] + b',"documents":[\n'
    yield from _json_items(_json(_document_record(p)) for p in documents)
    yield b"]}\n"


def _document_record(planned: _Planned) -> dict[str, object]:
    document, metadata = planned.document, planned.document.metadata
    return {
        "file": planned.name,
        "document_id": str(document.document_id),
        "version": document.version,
        "status": document.status.value,
        "title": metadata.title,
        "category": metadata.category.value,
        "type_code": metadata.type_code or None,
        "care_date": None if metadata.care_date is None else _iso(metadata.care_date),
        "format": None if metadata.format is None else metadata.format.value,
        "media_type": metadata.media_type,
        "author": None if document.author is None else _author(document.author),
        "size": document.size,
        "sha256": document.sha256.hex(),
        "created_at": _iso(document.created_at),
        "visibility": _visibility(document.visibility),
    }


def _author(author: Author) -> dict[str, object]:
    return {
        "kind": author.kind.value,
        "rpps": author.professional_id or None,
        "profession": author.profession,
        "specialty": author.specialty,
    }


def _visibility(visibility: Visibility) -> list[str]:
    return [f.name.lower() for f in Visibility if f.name and f.value and visibility & f]


def _history(entries: Iterable[Mapping[str, object]]) -> Iterator[bytes]:
    yield b"[\n"
    yield from _json_items(_history_line(entry) for entry in entries)
    yield b"]\n"


def _history_line(entry: Mapping[str, object]) -> bytes:
    try:
        return _json(dict(entry))
    except (TypeError, ValueError) as error:
        raise InvalidArgumentError("an access history entry is not JSON") from error


def _manifest(entries: Sequence[_ManifestEntry]) -> Iterator[bytes]:
    head = {"algorithm": "sha256", "format": FORMAT}
    yield _json(head)[:-1] + b',"files":[\n'
    lines = (_json({"name": e.name, "sha256": e.sha256.hex(), "size": e.size}) for e in entries)
    yield from _json_items(lines)
    yield b"]}\n"
