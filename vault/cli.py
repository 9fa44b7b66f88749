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
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from vault.auth import load_or_create_dev_issuer, mint_token
from vault.client import VaultClient
from vault.config import DEFAULT_LISTEN, Config
from vault.crypto import keys_cli
from vault.domain.model import ActorKind, Document, DocumentCategory, DocumentMetadata, Dossier
from vault.errors import UnauthenticatedError, VaultError, error_classes
from vault.journal import cli as journal_cli

EXIT_CODES: dict[type[VaultError], int] = {kind: kind.exit_code for kind in error_classes()}
EXIT_USAGE = 2


def _exit_codes_help() -> str:
    lines = ["exit codes:", "  0   success", f"  {EXIT_USAGE}   usage error"]
    lines += [f"  {code:<3} {kind.__name__}" for kind, code in EXIT_CODES.items()]
    return "\n".join(lines)


def _jsonable(value: object) -> Any:
    if isinstance(value, Document | Dossier | DocumentMetadata):
        return {k: _jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)  # UUID, datetime, enums


def _print_json(value: object) -> None:
    print(json.dumps(_jsonable(value), indent=2, default=str))


def client_from_args(args: argparse.Namespace) -> VaultClient:
    if not args.token:
        raise UnauthenticatedError("no token: pass --token or set VAULT_TOKEN")
    return VaultClient(args.target, args.token)


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
        _print_json(dossier)
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
    return (
        f"{document.document_id}  v{document.version}  {document.metadata.category.value:<22}"
        f" {document.size:>12}  {document.created_at:%Y-%m-%d %H:%M}  "
        f"{document.metadata.title}"
    )


def cmd_doc_put(args: argparse.Namespace) -> int:
    metadata = DocumentMetadata(args.title, DocumentCategory(args.category), args.media_type)
    content = sys.stdin.buffer if args.file == "-" else Path(args.file)
    with client_from_args(args) as client:
        document = client.put_document(args.dossier, metadata, content)
    if args.json:
        _print_json(document)
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


def cmd_doc_ls(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        documents = list(client.iter_documents(args.dossier, page_size=args.page_size))
    if args.json:
        _print_json(documents)
    else:
        for document in documents:
            print(_document_line(document))
    return 0


# -- parser -----------------------------------------------------------------------------


def _add_output_flags(parser: argparse.ArgumentParser, quiet: bool = True) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    if quiet:
        parser.add_argument("-q", "--quiet", action="store_true", help="print only the id")


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

    dossier = commands.add_parser("dossier", help="create or show a dossier").add_subparsers(
        dest="dossier_command", required=True
    )
    create = dossier.add_parser("create", help="open the dossier of a patient")
    create.add_argument("--ins", required=True)
    _add_output_flags(create)
    create.set_defaults(handler=cmd_dossier_create)
    show = dossier.add_parser("show", help="show a dossier")
    which = show.add_mutually_exclusive_group(required=True)
    which.add_argument("--id")
    which.add_argument("--ins")
    _add_output_flags(show)
    show.set_defaults(handler=cmd_dossier_show)

    doc = commands.add_parser("doc", help="store, fetch or list documents").add_subparsers(
        dest="doc_command", required=True
    )
    put = doc.add_parser("put", help="store a file as a new document")
    put.add_argument("--dossier", required=True)
    put.add_argument("--title", required=True)
    put.add_argument("--category", required=True, choices=[c.value for c in DocumentCategory])
    put.add_argument("--media-type", default="application/octet-stream")
    put.add_argument("file", help="path, or - for standard input")
    _add_output_flags(put)
    put.set_defaults(handler=cmd_doc_put)
    get = doc.add_parser("get", help="fetch a document (verified end to end)")
    get.add_argument("--dossier", required=True)
    get.add_argument("--document", required=True)
    get.add_argument("--version", type=int, default=0, help="0: the latest")
    get.add_argument("--offset", type=int, default=0, help="first byte of a range")
    get.add_argument("--length", type=int, help="bytes of the range (default: to the end)")
    get.add_argument("-o", "--output", required=True, help="path, or - for standard output")
    get.set_defaults(handler=cmd_doc_get)
    ls = doc.add_parser("ls", help="list a dossier's documents")
    ls.add_argument("--dossier", required=True)
    ls.add_argument("--page-size", type=int, default=0)
    _add_output_flags(ls, quiet=False)
    ls.set_defaults(handler=cmd_doc_ls)
    journal_cli.register(commands)
    keys_cli.register(commands)
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
