"""`dossier-vault db ...`: the versions of the index's and the journal's database schemas.

`db upgrade` migrates the databases that `serve` would use (`VAULT_DATABASE_URL`,
`VAULT_JOURNAL_DATABASE_URL`, or the SQLite file in the data directory) to the newest
revision: an empty database too, and one made before migrations. It is idempotent, each
schema upgrades in one transaction (nothing changes when it fails), and it is run with
the servers stopped. `db current` prints each schema's revision and whether it is the
newest. Both take `--json`. Exit codes: 0 done (`current`: every schema at head); 12
(`SchemaVersionError`) a schema not at head (`current`), or newer than this vault, or
still differing from its models after the upgrade; 10 a database unreachable; 11 a bad
URL. What the revisions are and how to add one: vault/migrations/README.md. What it
does not: write a revision, or run with a server up (nothing stops it: the operator does).
SQLAlchemy and Alembic load when a command runs, not for `--help`.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from vault.cli.output import add_output_flags, print_json
from vault.errors import SchemaVersionError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from vault import migrations
    from vault.config import Config
    from vault.migrations import Status


def _state(status: Status) -> str:
    """What the schema's state means, and what to run."""
    from vault.migrations import UPGRADE_COMMAND, State

    return {
        State.CURRENT: "at head",
        State.BEHIND: f"behind head {status.head}: run `{UPGRADE_COMMAND}`",
        State.UNVERSIONED: f"no version, made before migrations: run `{UPGRADE_COMMAND}`",
        State.EMPTY: "empty: created at head when the server starts, or by `db upgrade`",
        State.NEWER: f"newer than this vault (its head is {status.head})",
    }[status.state]


def _databases(config: Config) -> Iterator[tuple[migrations.Schema, str, Engine]]:
    """Each schema with its database URL and an engine (one per distinct URL)."""
    from vault import migrations
    from vault.sqlstore import make_engine

    engines: dict[str, Engine] = {}
    for schema, url in (
        (migrations.INDEX, config.index_url),
        (migrations.JOURNAL, config.journal_url),
    ):
        if url not in engines:
            engines[url] = make_engine(url)
        yield schema, url, engines[url]


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _revision(found: Status) -> str:
    return found.revision or "-"


def cmd_current(args: argparse.Namespace) -> int:
    from vault import migrations
    from vault.config import Config

    found = [
        (url, migrations.status(engine, schema))
        for schema, url, engine in _databases(Config.from_env())
    ]
    if args.json:
        print_json([_current_json(url, status) for url, status in found])
    else:
        for url, status in found:
            print(f"{status.schema:<8} {_revision(status):<6} {_state(status)}  ({_shown(url)})")
    behind = [status.schema for _, status in found if not status.at_head]
    if behind:
        raise SchemaVersionError(f"not at head: {', '.join(behind)}")
    return 0


def _current_json(url: str, status: Status) -> dict[str, Any]:
    return {
        "schema": status.schema,
        "database": _shown(url),
        "revision": status.revision,
        "head": status.head,
        "state": status.state.value,
        "at_head": status.at_head,
    }


def cmd_upgrade(args: argparse.Namespace) -> int:
    from vault import migrations
    from vault.config import Config

    config = Config.from_env()
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # as `serve` does
    done = []
    for schema, url, engine in _databases(config):
        before, after = migrations.upgrade(engine, schema)
        done.append(
            {
                "schema": schema.name,
                "database": _shown(url),
                "from": before.revision,
                "from_state": before.state.value,
                "to": after.revision,
            }
        )
        if not args.json:
            was = before.revision or f"({before.state.value})"
            unchanged = " (already at head)" if before.at_head else ""
            print(f"{schema.name}: {was} -> {after.revision}{unchanged}")
    if args.json:
        print_json(done)
    return 0


def register(commands: Any) -> None:
    """Adds `db` and its subcommands to the top-level parser's subparsers."""
    db = commands.add_parser(
        "db", help="database schema versions: upgrade, current (operators, servers stopped)"
    ).add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser(
        "upgrade",
        help="migrate the index and journal databases to the newest schema (idempotent)",
    )
    add_output_flags(upgrade, quiet=False)
    upgrade.set_defaults(handler=cmd_upgrade)
    current = db.add_parser(
        "current", help="each schema's revision and whether it is the newest (exit 12 if not)"
    )
    add_output_flags(current, quiet=False)
    current.set_defaults(handler=cmd_current)
