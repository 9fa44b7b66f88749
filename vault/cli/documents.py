"""`dossier-vault doc …`: store, fetch, list, count, delete documents, set visibility.

Each command is one call through the gRPC client (vault/cli/connect.py); the server
decides and journals. `doc put` refuses a file whose first bytes contradict its media
type (vault/domain/magic.py). What it does not: verify content otherwise (the client
checks size and SHA-256 end to end) or touch the dossier (vault/cli/dossiers.py).
"""

from __future__ import annotations

import argparse
import mimetypes
import os
import sys
import uuid
from contextlib import nullcontext
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from vault.cli.connect import client_from_args
from vault.cli.output import add_output_flags, jsonable, print_json, rfc3339, show
from vault.cli.progress import Progress
from vault.domain.magic import SNIFF_BYTES, agrees
from vault.domain.model import (
    Document,
    DocumentCategory,
    DocumentFormat,
    DocumentMetadata,
    DocumentQuery,
    DocumentStatus,
    Replacement,
    Visibility,
)
from vault.domain.validation import validate_title
from vault.errors import ConflictError, InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    from vault.client import VaultClient


def _document_line(document: Document) -> str:
    metadata = document.metadata
    care = "-" if metadata.care_date is None else f"{metadata.care_date:%Y-%m-%d}"
    return (
        f"{document.document_id}  v{document.version:<3} {document.status.value:<10} "
        f"{metadata.category.value:<22} {metadata.type_code or '-':<9} {care:<10} "
        f"{document.size:>12}  {rfc3339(document.created_at)}  {metadata.title}"
    )


def _title(text: str) -> str:
    """A title the server would take: not blank, no control characters."""
    try:
        return validate_title(text)
    except InvalidArgumentError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _day(text: str) -> datetime:
    """A date given as YYYY-MM-DD, as midnight UTC."""
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a date as YYYY-MM-DD") from None


def _replacement(text: str) -> Replacement:
    """DOCUMENT:VERSION, the version a new one replaces."""
    document_id, _, version = text.rpartition(":")
    if not document_id or not version.isdigit():
        raise argparse.ArgumentTypeError("expected DOCUMENT_ID:VERSION")
    return Replacement(document_id, int(version))


def _media_type(args: argparse.Namespace) -> str:
    """The media type given, or guessed from the file name."""
    if args.media_type:
        return str(args.media_type)
    guessed, _ = mimetypes.guess_type(args.file)
    if args.file == "-" or guessed is None:
        raise InvalidArgumentError("give --media-type: it cannot be guessed from the file name")
    return guessed


def _sniffed(content: BinaryIO, media_type: str) -> None:
    """Refuses a file whose first bytes contradict its media type (a PDF that is not a
    PDF); standard input is not sniffed (a pipe's first read may be short)."""
    head = content.read(SNIFF_BYTES)
    content.seek(0)
    if not agrees(media_type, head):
        raise InvalidArgumentError(
            f"the file is not {media_type}: its first bytes are not that format's signature"
        )


def cmd_put(args: argparse.Namespace) -> int:
    metadata = DocumentMetadata(
        args.title,
        DocumentCategory(args.category),
        _media_type(args),
        type_code=args.type_code,
        care_date=args.care_date,
        format=None if args.format is None else DocumentFormat(args.format),
    )
    # opened here, before connecting: a missing or unreadable file is an OSError for `run`
    with (
        (
            nullcontext(sys.stdin.buffer) if args.file == "-" else Path(args.file).open("rb")
        ) as content,
        client_from_args(args) as client,
    ):
        if args.file != "-":
            _sniffed(content, metadata.media_type)
        size = None if args.file == "-" else os.fstat(content.fileno()).st_size
        progress = Progress(size, enabled=not args.json)
        try:
            document = client.put_document(
                args.dossier,
                metadata,
                content,
                visibility=_visibility(args),
                replaces=args.replaces,
                on_progress=progress,
            )
        except (NotFoundError, ConflictError) as error:
            missing = _missing_version(client, args.dossier, args.replaces)
            if missing is None:
                raise
            raise missing from error
        finally:
            progress.close()
    text = (
        f"stored {document.document_id} v{document.version} ({document.size} bytes, "
        f"sha256 {document.sha256.hex()})"
    )
    show(args, document, text, quiet=str(document.document_id))
    return 0


def _missing_version(
    client: VaultClient, dossier: str, replaces: Replacement | None
) -> NotFoundError | None:
    """NotFoundError naming the version `replaces` names, and the latest the caller may
    see, when it does not exist (the server's NOT_FOUND names neither, to stay the same
    answer as for a document the caller may not see); None when it exists."""
    try:
        query = DocumentQuery(document_id=uuid.UUID(str(replaces and replaces.document_id)))
    except ValueError:
        return None  # a malformed id: the server's answer stands
    if replaces is None:
        return None
    versions = {document.version for document in client.iter_documents(dossier, query)}
    if replaces.version in versions:
        return None
    return NotFoundError(
        f"no version {replaces.version} of document {replaces.document_id} in this dossier"
        + (f" (latest: {max(versions)})" if versions else "")
    )


def cmd_get(args: argparse.Namespace) -> int:
    if args.json and args.output == "-":
        raise InvalidArgumentError("--json prints the document's metadata: give -o a path")
    destination = sys.stdout.buffer if args.output == "-" else Path(args.output)
    progress = Progress(args.length, enabled=not args.json)  # the size: not known ahead
    with client_from_args(args) as client:
        try:
            document = client.download(
                args.dossier,
                args.document,
                destination,
                args.version,
                offset=args.offset,
                length=args.length,
                on_progress=progress,
            )
        finally:
            progress.close()
    whole = args.offset == 0 and args.length is None
    if args.json:
        print_json(document)
    elif args.output != "-" and whole:
        print(f"wrote {document.size} bytes to {args.output} (sha256 verified)", file=sys.stderr)
    elif args.output != "-":
        print(f"wrote a range of the document to {args.output}", file=sys.stderr)
    return 0


def _query(args: argparse.Namespace) -> DocumentQuery:
    return DocumentQuery(
        categories=frozenset(DocumentCategory(c) for c in args.category or ()),
        type_codes=frozenset(args.type_code or ()),
        author=args.author,
        care_from=args.care_from,
        care_until=args.care_until,
        statuses=frozenset(DocumentStatus(s) for s in args.status or ()),
        document_id=args.document,
    )


def cmd_ls(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        documents = list(client.iter_documents(args.dossier, _query(args), args.page_size))
    if args.json:
        print_json(documents)
    else:
        for document in documents:
            print(_document_line(document))
    return 0


def cmd_count(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        counts = client.count_documents(args.dossier)
    if args.json:
        print_json({category.value: count for category, count in counts.items()})
    else:
        for category, count in counts.items():
            print(f"{category.value:<22} {count:>8}")
        print(f"{'total':<22} {sum(counts.values()):>8}")  # 0, not nothing, when empty
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        client.delete_document(args.dossier, args.document)
    deleted = {"dossier_id": args.dossier, "document_id": args.document, "deleted": True}
    show(args, deleted, f"deleted {args.document} and all its versions", quiet=args.document)
    return 0


def visibility_names(flags: Visibility) -> list[str]:
    """The flags set, by their command-line names (none: `normal`)."""
    names = [name for name, (flag, _) in _VISIBILITY_FLAGS.items() if flags & flag]
    return [name.replace("_", "-") for name in names] or ["normal"]


def _flag(name: str) -> Visibility:
    return _VISIBILITY_FLAGS[name.replace("-", "_")][0]


def cmd_visibility(args: argparse.Namespace) -> int:
    """Adds or removes the flags named, keeping the others (read, then set)."""
    if not args.add and not args.remove:
        raise InvalidArgumentError("name a flag to --add or --remove")
    if set(args.add) & set(args.remove):
        raise InvalidArgumentError("a flag both added and removed")
    query = DocumentQuery(document_id=args.document, statuses=frozenset({DocumentStatus.CURRENT}))
    with client_from_args(args) as client:
        current = next(iter(client.iter_documents(args.dossier, query)), None)
        if current is None:
            raise NotFoundError("no such document in this dossier (or not visible to you)")
        flags = current.visibility
        for name in args.add:
            flags |= _flag(name)
        for name in args.remove:
            flags &= ~_flag(name)
        document = client.set_visibility(args.dossier, args.document, Visibility(flags))
    text = f"{document.document_id}  visibility: {', '.join(visibility_names(document.visibility))}"
    show(args, _jsonable_document(document), text)
    return 0


def _jsonable_document(document: Document) -> dict[str, Any]:
    value: dict[str, Any] = jsonable(document)
    value["visibility_names"] = visibility_names(document.visibility)
    return value


_VISIBILITY_FLAGS = {
    "masked": (
        Visibility.MASKED_FROM_PROFESSIONALS,
        "hide from professionals but the treating physician (patient side)",
    ),
    "hidden_from_patient": (
        Visibility.HIDDEN_FROM_PATIENT,
        "hold back from the patient until announced (its author)",
    ),
    "hidden_from_representatives": (
        Visibility.HIDDEN_FROM_REPRESENTATIVES,
        "a minor's confidential care",
    ),
}


def _add_visibility_flags(parser: argparse.ArgumentParser) -> None:
    for name, (_, help_text) in _VISIBILITY_FLAGS.items():
        parser.add_argument("--" + name.replace("_", "-"), action="store_true", help=help_text)


def _visibility(args: argparse.Namespace) -> Visibility:
    flags = Visibility.NORMAL
    for name, (flag, _) in _VISIBILITY_FLAGS.items():
        if getattr(args, name):
            flags |= flag
    return flags


def register(commands: Any) -> None:
    """Adds `doc` and its subcommands to the top-level parser's subparsers."""
    doc = commands.add_parser("doc", help="store, fetch or list documents").add_subparsers(
        dest="doc_command", required=True
    )
    put = doc.add_parser("put", help="store a file as a new document, or a new version")
    put.add_argument("--dossier", required=True)
    put.add_argument("--title", required=True, type=_title)
    put.add_argument("--category", required=True, choices=[c.value for c in DocumentCategory])
    put.add_argument("--media-type", help="default: guessed from the file name")
    put.add_argument("--format", choices=[f.value for f in DocumentFormat])
    put.add_argument("--type-code", default="", help="LOINC or TRE_A05 code (XDS typeCode)")
    put.add_argument("--care-date", type=_day, help="date of the care, YYYY-MM-DD")
    put.add_argument(
        "--replaces", type=_replacement, metavar="DOCUMENT:VERSION", help="a new version of it"
    )
    put.add_argument("file", help="path, or - for standard input")
    _add_visibility_flags(put)
    add_output_flags(put)
    put.set_defaults(handler=cmd_put)
    get = doc.add_parser("get", help="fetch a document (verified end to end)")
    get.add_argument("--dossier", required=True)
    get.add_argument("--document", required=True)
    get.add_argument("--version", type=int, default=0, help="0: the latest")
    get.add_argument("--offset", type=int, default=0, help="first byte of a range")
    get.add_argument("--length", type=int, help="bytes of the range (default: to the end)")
    get.add_argument("-o", "--output", required=True, help="path, or - for standard output")
    add_output_flags(get, quiet=False)
    get.set_defaults(handler=cmd_get)
    ls = doc.add_parser("ls", help="list or search a dossier's documents")
    ls.add_argument("--dossier", required=True)
    ls.add_argument("--page-size", type=int)
    ls.add_argument("--category", action="append", choices=[c.value for c in DocumentCategory])
    ls.add_argument("--type-code", action="append")
    ls.add_argument("--author", help="the author's RPPS number")
    ls.add_argument("--care-from", type=_day, help="date of care from (included)")
    ls.add_argument("--care-until", type=_day, help="date of care until (excluded)")
    ls.add_argument(
        "--status",
        action="append",
        choices=[s.value for s in DocumentStatus],
        help="default: current (with --document: both)",
    )
    ls.add_argument("--document", type=uuid.UUID, help="one document's versions")
    add_output_flags(ls, quiet=False)
    ls.set_defaults(handler=cmd_ls)
    count = doc.add_parser("count", help="how many documents you may see, per category")
    count.add_argument("--dossier", required=True)
    add_output_flags(count, quiet=False)
    count.set_defaults(handler=cmd_count)
    rm = doc.add_parser("rm", help="delete a document and all its versions (patient side)")
    rm.add_argument("--dossier", required=True)
    rm.add_argument("--document", required=True)
    add_output_flags(rm)
    rm.set_defaults(handler=cmd_rm)
    visibility = doc.add_parser(
        "visibility", help="add or remove one of a document's visibility flags, keeping the rest"
    )
    visibility.add_argument("--dossier", required=True)
    visibility.add_argument("--document", required=True, type=uuid.UUID)
    names = [name.replace("_", "-") for name in _VISIBILITY_FLAGS]
    for verb in ("add", "remove"):
        visibility.add_argument(
            "--" + verb, action="append", default=[], choices=names, help=f"a flag to {verb}"
        )
    add_output_flags(visibility, quiet=False)
    visibility.set_defaults(handler=cmd_visibility)
