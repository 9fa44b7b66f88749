"""`dossier-vault serve`, `gc` and `dev-token`: the commands run on the server host.

They read the server's configuration (VAULT_*) and build through vault/composition.py;
everything they need is imported when they run, not when the parser is built.
`dev-token` mints from the issuer in VAULT_DATA_DIR (the server's, `./var/` by default)
and creates none there unless asked (`--create-issuer`). What it does not: serve itself
(vault/server/app.py) or talk to a server over gRPC.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from vault.cli.output import add_output_flags, print_json, show
from vault.domain.model import ActorKind


def cmd_serve(args: argparse.Namespace) -> int:
    from vault.config import Config
    from vault.server.listen import ListenAddress, check_available

    config = Config.from_env()
    from vault.observability.logs import install

    install(config.log_format)  # every line of the server in VAULT_LOG_FORMAT, from the first
    processes = config.processes if args.processes is None else args.processes
    if processes > 1:
        from vault.server.workers import run_workers

        return run_workers(config, processes)
    # a bad address or a taken port: one line, before the imports below log anything
    check_available(ListenAddress.parse(config.listen), reuse_port=config.reuse_port)

    import asyncio

    from vault.server.app import serve
    from vault.server.malloc_arenas import limit_malloc_arenas

    limit_malloc_arenas()  # before the worker threads exist
    asyncio.run(serve(config, parent_fd=args.parent_fd))
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def cmd_gc(args: argparse.Namespace) -> int:
    from vault.composition import build_sweeper
    from vault.config import Config

    config = Config.from_env()
    grace = config.gc_grace_seconds if args.grace_seconds is None else args.grace_seconds
    report = build_sweeper(config).sweep(timedelta(seconds=grace), dry_run=args.dry_run)
    if args.json:
        print_json(report, compact=True)
    else:
        verb = "would remove" if report.dry_run else "removed"
        print(
            f"{verb}: {report.pending_discarded} interrupted uploads, "
            f"{report.incomplete_writes_removed} unfinished writes, "
            f"{report.orphan_blobs_deleted} orphan blobs"
        )
    return 0


def _ttl(text: str) -> int:
    """A lifetime the server accepts: 1 second to MAX_LIFETIME_SECONDS (a day)."""
    from vault.auth import MAX_LIFETIME_SECONDS

    value = _positive(text)
    if value > MAX_LIFETIME_SECONDS:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_LIFETIME_SECONDS} seconds: the server refuses longer tokens"
        )
    return value


ISSUER_FILE = "dev-token-issuer.pem"  # vault.auth's, in the data directory


def cmd_dev_token(args: argparse.Namespace) -> int:
    from vault.auth import load_or_create_dev_issuer, mint_token
    from vault.config import Config
    from vault.errors import ConfigurationError

    config = Config.from_env()
    if config.require_production_keys:
        raise ConfigurationError("VAULT_REQUIRE_PRODUCTION_KEYS is set: no development issuer")
    if not (config.data_dir / ISSUER_FILE).exists() and not args.create_issuer:
        # a new issuer here would mint tokens no running server accepts
        raise ConfigurationError(
            f"no development issuer in {config.data_dir} (VAULT_DATA_DIR): point it at the "
            "server's data directory, or pass --create-issuer"
        )
    key = load_or_create_dev_issuer(config.data_dir)
    token = mint_token(
        key,
        kind=ActorKind(args.kind),
        subject=args.subject,
        ttl_seconds=args.ttl,
        issuer=config.token_issuer,
        audience=config.token_audience,
        profession=args.profession,
        specialty=args.specialty,
        structure=args.structure,
    )
    show(args, {"token": token, "data_dir": str(config.data_dir)}, token)
    return 0


def register(commands: Any) -> None:
    """Adds `serve`, `gc` and `dev-token` to the top-level parser's subparsers."""
    serve = commands.add_parser("serve", help="run the gRPC server (configured by VAULT_*)")
    serve.add_argument(
        "--processes",
        type=_positive,
        metavar="N",
        help="run N server processes on the port, each with its own pools (default: "
        "VAULT_PROCESSES, 1); one of them signs checkpoints and sweeps",
    )
    # given by `serve --processes N` to its workers (vault/server/parent_watch.py)
    serve.add_argument("--parent-fd", type=int, help=argparse.SUPPRESS)
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
    token.add_argument("--structure", help="a professional's FINESS or SIRET (care teams)")
    token.add_argument("--ttl", type=_ttl, default=3600, help="lifetime in seconds (at most a day)")
    token.add_argument(
        "--create-issuer",
        action="store_true",
        help="create the development issuer if the data directory has none (a server "
        "started there afterwards accepts its tokens)",
    )
    add_output_flags(token, quiet=False)
    token.set_defaults(handler=cmd_dev_token)
