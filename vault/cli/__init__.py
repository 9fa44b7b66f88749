"""`dossier-vault`: the command line (server, development tokens, and a gRPC client).

`main` builds one parser from the command groups (`serve`/`gc`/`dev-token`, `dossier`,
`doc`, `access`, `retention`, `journal`, `keys`, `db`), one module each in this package,
and `run` turns `VaultError`s into the stable exit codes of vault/cli/exitcodes.py
(listed in `--help`) with messages without health data. `--json` gives machine output
(vault/cli/output.py); `-q` prints only the id a command created, for shell scripts.
`dossier-vault-retention` is `vault.cli.retention:main`, the same runner.

Building the parser imports no adapter: boto3, SQLAlchemy, grpc, python-pkcs11 and
PyJWT load when a command runs. This package is the only place in `vault/` that prints
to standard output; the server logs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from vault.cli.connect import add_connection_flags
from vault.cli.exitcodes import epilog, error_codes
from vault.errors import VaultError


def build_parser() -> argparse.ArgumentParser:
    # the groups import this package's `run`: imported here, `python -m vault.cli.retention`
    # runs without the package having loaded that module already
    from vault.cli import access, db, documents, dossiers, journal, keys, retention, server

    parser = argparse.ArgumentParser(
        prog="dossier-vault",
        description="Dossier Vault: encrypted, journaled storage for the shared medical record.",
        epilog=epilog("success", error_codes()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_connection_flags(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    server.register(commands)
    dossiers.register(commands)
    documents.register(commands)
    access.register(commands)
    retention.register(commands)  # the operators' retention commands, built on vault
    journal.register(commands)
    keys.register(commands)
    db.register(commands)
    return parser


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parses `argv`, runs the command, and turns its failure into an exit code."""
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except VaultError as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:
        print(f"{parser.prog}: {error.strerror}: {error.filename}", file=sys.stderr)
        return VaultError.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return run(build_parser(), argv)
