"""`dossier-vault doc …`: store, fetch, list, count, delete documents, set visibility.

Each command is one call through the gRPC client (vault/cli/connect.py); the server
decides and journals. What it does not: verify content itself (the client checks size
and SHA-256 end to end) or touch the dossier (vault/cli/dossiers.py).
"""

from __future__ import annotations

import argparse
import mimetypes
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from vault.cli.connect import client_from_args
from vault.cli.output import add_output_flags, print_json, show
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
from vault.errors import InvalidArgumentError


def _document_line(document: Document) -> str:
    metadata = document.metadata
    care = "-" if metadata.care_date is None else f"{metadata.care_date:%Y-%m-%d}"
    return (
        f"{document.document_id}  v{document.version:<3} {document.status.value:<10} "
        f"{metadata.category.value:<22} {metadata.type_code or '-':<9} {care:<10} "
        f"{document.size:>12}  {document.created_at:%Y-%m-%d %H:%M}  {metadata.title}"
    )


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


def cmd_put(args: argparse.Namespace) -> int:
    metadata = DocumentMetadata(
        args.title,
        DocumentCategory(args.category),
        _media_type(args),
        type_code=args.type_code,
        care_date=args.care_date,
        format=None if args.format is None else DocumentFormat(args.format),
    )
    content = sys.stdin.buffer if args.file == "-" else Path(args.file)
    with client_from_args(args) as client:
        document = client.put_document(
            args.dossier,
            metadata,
            content,
            visibility=_visibility(args),
            replaces=args.replaces,
        )
    text = (
        f"stored {document.document_id} v{document.version} ({document.size} bytes, "
        f"sha256 {document.sha256.hex()})"
    )
    show(args, document, text, quiet=str(document.document_id))
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    destination = sys.stdout.buffer if args.output == "-" else Path(args.output)
    with client_from_args(args) as client:
        document = client.download(
            args.dossier,
            args.document,
            destination,
            args.version,
            offset=args.offset,
            length=args.length,
        )
    whole = args.offset == 0 and args.length is None
    if args.output != "-" and whole:
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
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        client.delete_document(args.dossier, args.document)
    return 0


def cmd_visibility(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        document = client.set_visibility(args.dossier, args.document, _visibility(args))
    show(args, document, _document_line(document))
    return 0


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
    put.add_argument("--title", required=True)
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
    rm.set_defaults(handler=cmd_rm)
    visibility = doc.add_parser("visibility", help="set a document's visibility codes")
    visibility.add_argument("--dossier", required=True)
    visibility.add_argument("--document", required=True)
    _add_visibility_flags(visibility)
    add_output_flags(visibility, quiet=False)
    visibility.set_defaults(handler=cmd_visibility)
