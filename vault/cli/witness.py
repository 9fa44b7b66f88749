"""`dossier-vault witness serve` and `witness public-key`: a C2SP tlog-witness of the journal.

`serve` runs a witness (vault/witness/) on a loopback address: `POST /add-checkpoint`
cosigns checkpoints of the logs it is given (`--log-key`, repeatable: the vault's
`journal public-key`) once their signature and consistency with what it cosigned before
check out. Its key (`witness-key.pem`) and state (`witness-state.json`: the last
checkpoint cosigned per log) live in `--dir`, created on first start. `public-key` prints
the witness's cosigner vkey, for the vault's VAULT_WITNESS_KEYS and the verifiers'
`--witness-key`. What it does not: need the vault, its database or its keys.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vault.cli.exitcodes import epilog, error_codes
from vault.cli.output import print_json
from vault.errors import InvalidArgumentError

KEY_FILE = "witness-key.pem"
STATE_FILE = "witness-state.json"
DEFAULT_LISTEN = "127.0.0.1:7380"


def _signer(args: argparse.Namespace) -> Any:
    from vault.crypto.localkeys import LocalCheckpointSigner
    from vault.witness.server import load_or_create_key

    return LocalCheckpointSigner(load_or_create_key(Path(args.dir) / KEY_FILE))


def _listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise InvalidArgumentError(f"--listen takes HOST:PORT, not {text!r}")
    return host.strip("[]"), int(port)


def cmd_serve(args: argparse.Namespace) -> int:
    from vault.journal.checkpoint import VerifierKey
    from vault.witness.server import WitnessServer
    from vault.witness.state import StateFile
    from vault.witness.witness import Witness

    if not args.log_key:
        raise InvalidArgumentError("give the log's key: --log-key (`journal public-key`)")
    logs = [VerifierKey.parse(text) for text in args.log_key]
    witness = Witness(args.name, _signer(args), logs, StateFile(Path(args.dir) / STATE_FILE))
    with WitnessServer(_listen(args.listen), witness) as server:
        port = server.server_address[1]
        print(
            f"witness {witness.key.encode()} listening on {args.listen.rpartition(':')[0]}:{port}",
            file=sys.stderr,
        )
        sys.stderr.flush()
        server.serve_forever()
    return 0


def cmd_public_key(args: argparse.Namespace) -> int:
    from vault.witness.cosignature import WitnessKey

    key = WitnessKey(args.name, _signer(args).public_key).encode()
    if args.json:
        print_json({"witness_key": key})
    else:
        print(key)
    return 0


def register(commands: Any) -> None:
    """Adds `witness serve` and `witness public-key` to the top-level subparsers."""
    witness = commands.add_parser("witness", help="a C2SP tlog-witness of the journal (ADR 0044)")
    actions = witness.add_subparsers(dest="witness_command", required=True)
    serve = actions.add_parser(
        "serve",
        help="cosign the log's checkpoints over HTTP (POST /add-checkpoint, loopback)",
        epilog=epilog("stopped", error_codes()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--listen", default=DEFAULT_LISTEN, help="loopback HOST:PORT (port 0: any)")
    serve.add_argument(
        "--log-key", action="append", help="a log's checkpoint verifier key (repeatable)"
    )
    serve.set_defaults(handler=cmd_serve)
    public_key = actions.add_parser("public-key", help="print the witness's cosigner key")
    public_key.add_argument("--json", action="store_true", help="machine-readable output")
    public_key.set_defaults(handler=cmd_public_key)
    for parser in (serve, public_key):
        parser.add_argument("--name", required=True, help="the witness's name (its key name)")
        parser.add_argument(
            "--dir", default="var/witness", help="its key and state (default var/witness)"
        )
