"""What the command-line modules share: the client a command talks through, and output.

`dossier-vault`'s command groups (vault/cli.py, vault/access_cli.py, vault/journal/cli.py,
vault/crypto/keys_cli.py) build on these; this module parses nothing itself.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from vault.client import VaultClient, client_credentials
from vault.errors import UnauthenticatedError


def jsonable(value: object) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)  # UUID, datetime, enums


def print_json(value: object) -> None:
    print(json.dumps(jsonable(value), indent=2, default=str))


def _path(value: str) -> Path | None:
    return Path(value) if value else None


def client_from_args(args: argparse.Namespace) -> VaultClient:
    if not args.token:
        raise UnauthenticatedError("no token: pass --token or set VAULT_TOKEN")
    ca, cert, key = _path(args.tls_ca), _path(args.tls_cert), _path(args.tls_key)
    if ca is None and cert is None and key is None:
        return VaultClient(args.target, args.token)
    return VaultClient(args.target, args.token, credentials=client_credentials(ca, cert, key))


def add_output_flags(parser: argparse.ArgumentParser, quiet: bool = True) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    if quiet:
        parser.add_argument("-q", "--quiet", action="store_true", help="print only the id")
