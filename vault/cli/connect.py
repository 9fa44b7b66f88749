"""The connection a client command talks through: server address, token and TLS flags.

`add_connection_flags` adds them to the top-level parser; `client_from_args` opens a
`VaultClient` from them (grpc is imported then, not when the parser is built). What it
does not: make calls (each command does) or read the server's configuration beyond
the default address.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from vault.errors import UnauthenticatedError

if TYPE_CHECKING:
    from vault.client import VaultClient


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    """--target and --token, and the client TLS flags: any of these makes the connection
    TLS (server verified against the CA bundle, or the system's roots without one)."""
    target = os.environ.get("VAULT_TARGET") or os.environ.get("VAULT_LISTEN")
    parser.add_argument(
        "--target",
        default=target,
        help="server address (env VAULT_TARGET, else VAULT_LISTEN; default: where `serve` "
        "listens by default)",
    )
    parser.add_argument(
        "--token", default=os.environ.get("VAULT_TOKEN", ""), help="bearer token (env VAULT_TOKEN)"
    )
    flags = [
        ("--tls-ca", "VAULT_CLIENT_TLS_CA", "CA bundle (PEM) to verify the server"),
        ("--tls-cert", "VAULT_CLIENT_TLS_CERT", "client certificate chain (PEM), mutual TLS"),
        ("--tls-key", "VAULT_CLIENT_TLS_KEY", "the client certificate's private key (PEM)"),
    ]
    for flag, env, what in flags:
        parser.add_argument(flag, default=os.environ.get(env, ""), help=f"{what} (env {env})")


def _path(value: str) -> Path | None:
    return Path(value) if value else None


def client_from_args(args: argparse.Namespace) -> VaultClient:
    from vault.client import VaultClient, client_credentials
    from vault.config import DEFAULT_LISTEN

    if not args.token:
        raise UnauthenticatedError("no token: pass --token or set VAULT_TOKEN")
    target = args.target or DEFAULT_LISTEN
    ca, cert, key = _path(args.tls_ca), _path(args.tls_cert), _path(args.tls_key)
    if ca is None and cert is None and key is None:
        return VaultClient(target, args.token)
    return VaultClient(target, args.token, credentials=client_credentials(ca, cert, key))
