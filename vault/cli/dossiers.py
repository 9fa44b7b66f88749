"""`dossier-vault dossier …`: create, show or export a dossier, through the gRPC client.

What it does not: decide who may (the server does) or touch the documents themselves
(vault/cli/documents.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vault.cli.connect import client_from_args
from vault.cli.output import add_output_flags, show

if TYPE_CHECKING:
    from vault.domain.model import Dossier


def _show_dossier(args: argparse.Namespace, dossier: Dossier) -> None:
    text = (
        f"dossier {dossier.dossier_id}  state={dossier.state.value}  "
        f"created={dossier.created_at:%Y-%m-%d %H:%M:%S}Z"
    )
    show(args, dossier, text, quiet=str(dossier.dossier_id))


def cmd_create(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        _show_dossier(args, client.create_dossier(args.ins))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with client_from_args(args) as client:
        _show_dossier(args, client.get_dossier(dossier_id=args.id or "", ins=args.ins or ""))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    destination = sys.stdout.buffer if args.output == "-" else Path(args.output)
    with client_from_args(args) as client:
        client.export_dossier(args.dossier, destination)
    if args.output != "-":
        print(f"wrote the patient's copy to {args.output}", file=sys.stderr)
    return 0


def register(commands: Any) -> None:
    """Adds `dossier` and its subcommands to the top-level parser's subparsers."""
    dossier = commands.add_parser(
        "dossier", help="create, show or export a dossier"
    ).add_subparsers(dest="dossier_command", required=True)
    create = dossier.add_parser("create", help="open the dossier of a patient")
    create.add_argument("--ins", required=True)
    add_output_flags(create)
    create.set_defaults(handler=cmd_create)
    show_parser = dossier.add_parser("show", help="show a dossier")
    which = show_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--id")
    which.add_argument("--ins")
    add_output_flags(show_parser)
    show_parser.set_defaults(handler=cmd_show)
    export = dossier.add_parser(
        "export", help="the patient's copy: a zip of every document, its metadata and history"
    )
    export.add_argument("--dossier", required=True)
    export.add_argument("-o", "--output", required=True, help="path, or - for standard output")
    export.set_defaults(handler=cmd_export)
