"""`dossier-vault`: the command line (server, development tokens, and a gRPC client).

`main` builds one parser from the command groups (`serve`/`gc`/`dev-token`, `dossier`,
`doc`, `access`, `retention`, `journal`, `keys`, `db`, `config`, `scrub`), one module each in
this package, and `run` turns `VaultError`s (and Ctrl-C: 130) into the stable exit codes of
vault/cli/exitcodes.py (listed in `--help`) with messages without health data. `--json`
gives machine output (vault/cli/output.py); `-q` prints only the id a command created,
for shell scripts. `--config PATH` names the server's TOML configuration file for any
command (it sets `VAULT_CONFIG_FILE` while the command runs, so the server processes it
starts read it too; the environment wins over the file).
`dossier-vault-retention` is `vault.cli.retention:main`, the same runner.

Building the parser imports no adapter: boto3, SQLAlchemy, grpc, python-pkcs11 and
PyJWT load when a command runs. This package is the only place in `vault/` that prints
to standard output; the server logs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from vault.cli.connect import add_connection_flags
from vault.cli.exitcodes import EXIT_INTERRUPTED, epilog, error_codes
from vault.errors import VaultError


def build_parser() -> argparse.ArgumentParser:
    # the groups import this package's `run`: imported here, `python -m vault.cli.retention`
    # runs without the package having loaded that module already
    from vault.cli import (
        access,
        config,
        db,
        documents,
        dossiers,
        holds,
        journal,
        keys,
        retention,
        scrub,
        server,
        witness,
    )

    parser = argparse.ArgumentParser(
        prog="dossier-vault",
        description="Dossier Vault: encrypted, journaled storage for the shared medical record.",
        epilog=epilog("success", error_codes()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_connection_flags(parser)
    add_config_flag(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    server.register(commands)
    scrub.register(commands)  # on the server host, beside gc
    dossiers.register(commands)
    holds.register(commands)
    documents.register(commands)
    access.register(commands)
    retention.register(commands)  # the operators' retention commands, built on vault
    journal.register(commands)
    keys.register(commands)
    db.register(commands)
    config.register(commands)
    witness.register(commands)
    return parser


PRIVATE_UMASK = 0o077  # what a command creates (index, blobs, keys, exports) is its owner's alone
CONFIG_FILE_VARIABLE = "VAULT_CONFIG_FILE"  # vault.config's, not imported to build the parser


def add_config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        help=f"the server's TOML configuration file (env {CONFIG_FILE_VARIABLE}); the "
        "environment wins over it (docs/configuration.md)",
    )


@contextmanager
def _config_file(path: str | None) -> Iterator[None]:
    """`VAULT_CONFIG_FILE` set to `path` while the command runs (nothing when None)."""
    if path is None:
        yield
        return
    before = os.environ.get(CONFIG_FILE_VARIABLE)
    os.environ[CONFIG_FILE_VARIABLE] = path
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(CONFIG_FILE_VARIABLE, None)
        else:
            os.environ[CONFIG_FILE_VARIABLE] = before


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parses `argv`, runs the command, and turns its failure into an exit code."""
    args = parser.parse_args(argv)
    os.umask(PRIVATE_UMASK)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        with _config_file(getattr(args, "config", None)):
            return handler(args)
    except VaultError as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:
        print(f"{parser.prog}: {error.strerror}: {error.filename}", file=sys.stderr)
        return VaultError.exit_code
    except KeyboardInterrupt:
        # what was being written is a temporary file, removed on the way out
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return run(build_parser(), argv)
