"""`dossier-vault`: the command line (server, development tokens, and a gRPC client).

The CLI is an edge: it turns `VaultError`s into the stable exit codes listed in `--help`
and prints messages without health data. `--json` gives machine output; `-q` prints only
the id a command created, for shell scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import mimetypes
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from retention import cli as retention_cli
from vault import access_cli, db_cli
from vault.auth import load_or_create_dev_issuer, mint_token
from vault.clitools import add_output_flags, client_from_args, print_json
from vault.config import DEFAULT_LISTEN, Config
from vault.crypto import keys_cli
from vault.domain.model import (
    ActorKind,
    Document,
    DocumentCategory,
    DocumentFormat,
    DocumentMetadata,
    DocumentQuery,
    DocumentStatus,
    Dossier,
    Replacement,
    Visibility,
)
from vault.errors import InvalidArgumentError, VaultError, error_classes
from vault.journal import cli as journal_cli

EXIT_CODES: dict[type[VaultError], int] = {kind: kind.exit_code for kind in error_classes()}
EXIT_USAGE = 2


def _exit_codes_help() -> str:
    lines = ["exit codes:", "  0   success", f"  {EXIT_USAGE}   usage error"]
    lines += [f"  {code:<3} {kind.__name__}" for kind, code in EXIT_CODES.items()]
    return "\n".join(lines)


# -- commands ---------------------------------------------------------------------------


def cmd_serve(_args: argparse.Namespace) -> int:
    from vault.server.app import serve  # the server's imports are only needed here
    from vault.server.memory import limit_malloc_arenas

    limit_malloc_arenas()  # before the worker threads exist
    asyncio.run(serve(Config.from_env()))
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    from vault.server.app import build_sweeper

    config = Config.from_env()
    grace = config.gc_grace_seconds if args.grace_seconds is None else args.grace_seconds
    report = build_sweeper(config).sweep(timedelta(seconds=grace), dry_run=args.dry_run)
    if args.json:
        print(json.dumps(asdict(report)))
    else:
        verb = "would remove" if report.dry_run else "removed"
        print(
            f"{verb}: {report.pending_discarded} interrupted uploads, "
            f"{report.incomplete_writes_removed} unfinished writes, "
            f"{report.orphan_blobs_deleted} orphan blobs"
        )
    return 0


def cmd_dev_token(args: argparse.Namespace) -> int:
    config = Config.from_env()
    key = load_or_create_dev_issuer(config.data_dir)
    print(
        mint_token(
            key,
            kind=ActorKind(args.kind),
            subject=args.subject,
            ttl_seconds=args.ttl,
            issuer=config.token_issuer,
            audience=config.token_audience,
            profession=args.profession,
            specialty=args.specialty,
        )
    )
    return 0


def _show_dossier(args: argparse.Namespace, dossier: Dossier) -> None:
    if args.json:
        print_json(dossier)
    elif args.quiet:
        print(dossier.dossier_id)
    else:
        print(
            f"dossier {dossier.dossier_id}  state={dossier.state.value}  "
            f"created={dossier.created_at:%Y-%m-%d %H:%M:%S}Z"
        )


def cmd_dossier_create(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        _show_dossier(args, client.create_dossier(args.ins))
    return 0


def cmd_dossier_show(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        _show_dossier(args, client.get_dossier(dossier_id=args.id or "", ins=args.ins or ""))
    return 0


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


def cmd_doc_put(args: argparse.Namespace) -> int:
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
    if args.json:
        print_json(document)
    elif args.quiet:
        print(document.document_id)
    else:
        print(
            f"stored {document.document_id} v{document.version} ({document.size} bytes, "
            f"sha256 {document.sha256.hex()})"
        )
    return 0


def cmd_doc_get(args: argparse.Namespace) -> int:
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


def cmd_dossier_export(args: argparse.Namespace) -> int:
    destination = sys.stdout.buffer if args.output == "-" else Path(args.output)
    with client_from_args(args) as client:
        client.export_dossier(args.dossier, destination)
    if args.output != "-":
        print(f"wrote the patient's copy to {args.output}", file=sys.stderr)
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


def cmd_doc_ls(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        documents = list(client.iter_documents(args.dossier, _query(args), args.page_size))
    if args.json:
        print_json(documents)
    else:
        for document in documents:
            print(_document_line(document))
    return 0


def cmd_doc_count(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        counts = client.count_documents(args.dossier)
    if args.json:
        print_json({category.value: count for category, count in counts.items()})
    else:
        for category, count in counts.items():
            print(f"{category.value:<22} {count:>8}")
    return 0


def cmd_doc_rm(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        client.delete_document(args.dossier, args.document)
    return 0


def cmd_doc_visibility(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        document = client.set_visibility(args.dossier, args.document, _visibility(args))
    if args.json:
        print_json(document)
    else:
        print(_document_line(document))
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


# -- parser -----------------------------------------------------------------------------


def _add_tls_flags(parser: argparse.ArgumentParser) -> None:
    """Client TLS: any of these makes the connection TLS (server verified against the CA
    bundle, or the system's roots without one)."""
    flags = [
        ("--tls-ca", "VAULT_CLIENT_TLS_CA", "CA bundle (PEM) to verify the server"),
        ("--tls-cert", "VAULT_CLIENT_TLS_CERT", "client certificate chain (PEM), mutual TLS"),
        ("--tls-key", "VAULT_CLIENT_TLS_KEY", "the client certificate's private key (PEM)"),
    ]
    for flag, env, what in flags:
        parser.add_argument(flag, default=os.environ.get(env, ""), help=f"{what} (env {env})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dossier-vault",
        description="Dossier Vault: encrypted, journaled storage for the shared medical record.",
        epilog=_exit_codes_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = os.environ.get("VAULT_TARGET") or os.environ.get("VAULT_LISTEN") or DEFAULT_LISTEN
    parser.add_argument(
        "--target", default=target, help="server address (env VAULT_TARGET; default %(default)s)"
    )
    parser.add_argument(
        "--token", default=os.environ.get("VAULT_TOKEN", ""), help="bearer token (env VAULT_TOKEN)"
    )
    _add_tls_flags(parser)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gRPC server (configured by VAULT_*)")
    serve.set_defaults(handler=cmd_serve)

    gc = commands.add_parser(
        "gc", help="sweep what interrupted uploads left behind (operators, server host)"
    )
    gc.add_argument(
        "--grace-seconds",
        type=float,
        help="leave alone anything younger (default: VAULT_GC_GRACE_SECONDS, a day); it "
        "must exceed the longest upload in progress: 0 only when no server is running",
    )
    gc.add_argument("--dry-run", action="store_true", help="count, remove nothing")
    gc.add_argument("--json", action="store_true")
    gc.set_defaults(handler=cmd_gc)

    token = commands.add_parser("dev-token", help="mint a token from the development issuer")
    token.add_argument("--kind", required=True, choices=[k.value for k in ActorKind])
    token.add_argument("--subject", required=True, help="INS for patients, RPPS for professionals")
    token.add_argument("--profession")
    token.add_argument("--specialty")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (at most a day)")
    token.set_defaults(handler=cmd_dev_token)

    dossier = commands.add_parser(
        "dossier", help="create, show or export a dossier"
    ).add_subparsers(dest="dossier_command", required=True)
    create = dossier.add_parser("create", help="open the dossier of a patient")
    create.add_argument("--ins", required=True)
    add_output_flags(create)
    create.set_defaults(handler=cmd_dossier_create)
    show = dossier.add_parser("show", help="show a dossier")
    which = show.add_mutually_exclusive_group(required=True)
    which.add_argument("--id")
    which.add_argument("--ins")
    add_output_flags(show)
    show.set_defaults(handler=cmd_dossier_show)
    export = dossier.add_parser(
        "export", help="the patient's copy: a zip of every document, its metadata and history"
    )
    export.add_argument("--dossier", required=True)
    export.add_argument("-o", "--output", required=True, help="path, or - for standard output")
    export.set_defaults(handler=cmd_dossier_export)

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
    put.set_defaults(handler=cmd_doc_put)
    get = doc.add_parser("get", help="fetch a document (verified end to end)")
    get.add_argument("--dossier", required=True)
    get.add_argument("--document", required=True)
    get.add_argument("--version", type=int, default=0, help="0: the latest")
    get.add_argument("--offset", type=int, default=0, help="first byte of a range")
    get.add_argument("--length", type=int, help="bytes of the range (default: to the end)")
    get.add_argument("-o", "--output", required=True, help="path, or - for standard output")
    get.set_defaults(handler=cmd_doc_get)
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
    ls.set_defaults(handler=cmd_doc_ls)
    count = doc.add_parser("count", help="how many documents you may see, per category")
    count.add_argument("--dossier", required=True)
    add_output_flags(count, quiet=False)
    count.set_defaults(handler=cmd_doc_count)
    rm = doc.add_parser("rm", help="delete a document and all its versions (patient side)")
    rm.add_argument("--dossier", required=True)
    rm.add_argument("--document", required=True)
    rm.set_defaults(handler=cmd_doc_rm)
    visibility = doc.add_parser("visibility", help="set a document's visibility codes")
    visibility.add_argument("--dossier", required=True)
    visibility.add_argument("--document", required=True)
    _add_visibility_flags(visibility)
    add_output_flags(visibility, quiet=False)
    visibility.set_defaults(handler=cmd_doc_visibility)
    access_cli.register(commands)
    retention_cli.register(commands)  # the operators' retention commands, built on vault
    journal_cli.register(commands)
    keys_cli.register(commands)
    db_cli.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except VaultError as error:
        print(f"dossier-vault: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:
        print(f"dossier-vault: {error.strerror}: {error.filename}", file=sys.stderr)
        return VaultError.exit_code


if __name__ == "__main__":
    sys.exit(main())
