"""Versioned database schemas: the index's and the journal's, migrated with Alembic.

Each schema has its own Alembic script directory in this package (`index/`, `journal/`)
and its own version table (`alembic_version_index`, `alembic_version_journal`): the
journal may live in a database of its own (`VAULT_JOURNAL_DATABASE_URL`), and when both
share one database the two version tables sit side by side. Alembic is driven through
its Python API on a connection opened here; there is no alembic.ini. How to add a
revision: README.md beside this file.

What a database holds of one schema (`status`), and what happens to it:

- empty (none of its tables, no version): `prepare`, which `create_schema()` calls,
  creates the tables from the models and stamps the head revision, in one transaction
  under `sqlstore.exclusive` (processes preparing one database at once queue; the
  first creates, the others find it current). A test proves models == migrations.
- current (at head): nothing to do.
- behind (an older revision, or the tables without a version table, as vaults made
  them before migrations): `prepare` refuses with a `SchemaVersionError` naming
  `dossier-vault db upgrade`; `upgrade` migrates it (the unversioned first stamped at
  the first revision, which is the schema those vaults made).
- newer (a revision this vault does not know: a newer vault migrated it): `prepare`
  lets this vault run if the newer revisions only added what it never touches
  (`expands_only`: columns it may leave out, non-unique indexes, tables), so that older
  servers keep serving, and restarting, during a rolling upgrade; anything else is
  refused. `upgrade` always refuses it (it never downgrades).

`upgrade` runs the revision scripts, then compares the database with the models and
rolls everything back if they differ. On PostgreSQL its statements wait at most
`LOCK_TIMEOUT` for a table lock, so that a migration run while servers serve fails
(nothing changed; run it again) rather than queueing every request behind it. What this
module does not do: create engines (vault/sqlstore.py) or seed rows (the journal's head
row is the journal's).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, column, inspect, select, table
from sqlalchemy import exc as sa_exc

from vault.errors import ConfigurationError, SchemaVersionError
from vault.sqlstore import exclusive, guard

UPGRADE_COMMAND = "dossier-vault db upgrade"
LOCK_TIMEOUT = "5s"
_log = logging.getLogger(__name__)
# Alembic's INFO lines (its dialect, its plugins) are noise: `db upgrade` says what it did
logging.getLogger("alembic").setLevel(logging.WARNING)
_HERE = Path(__file__).resolve().parent


def _index_metadata() -> MetaData:
    from vault.index.schema import Base  # imported on use: vault.index.sql imports us

    return Base.metadata


def _journal_metadata() -> MetaData:
    # imported on use: they import us; the Merkle tree's tables join the journal's
    from vault.journal.tree import nodes_table

    return nodes_table.metadata


@dataclass(frozen=True)
class Schema:
    """One separately versioned schema: its models, scripts and version table."""

    name: str
    version_table: str
    script_location: Path
    models: Callable[[], MetaData]

    @property
    def metadata(self) -> MetaData:
        return self.models()


INDEX = Schema("index", "alembic_version_index", _HERE / "index", _index_metadata)
JOURNAL = Schema("journal", "alembic_version_journal", _HERE / "journal", _journal_metadata)
SCHEMAS = (INDEX, JOURNAL)


class State(StrEnum):
    EMPTY = "empty"
    CURRENT = "current"
    BEHIND = "behind"
    UNVERSIONED = "unversioned"  # our tables, no version table: made before migrations
    NEWER = "newer"


@dataclass(frozen=True)
class Status:
    schema: str
    state: State
    revision: str | None  # None: no version recorded
    head: str

    @property
    def at_head(self) -> bool:
        return self.state is State.CURRENT

    def problem(self) -> str | None:
        """Why a server must not start on this schema, or None."""
        where = f"the {self.schema} database"
        if self.state is State.BEHIND:
            return (
                f"{where} schema is at revision {self.revision}, this vault needs "
                f"{self.head}: stop the servers and run `{UPGRADE_COMMAND}`"
            )
        if self.state is State.UNVERSIONED:
            return (
                f"{where} has the vault's tables but no schema version (made before "
                f"migrations): stop the servers and run `{UPGRADE_COMMAND}`"
            )
        if self.state is State.NEWER:
            return (
                f"{where} schema is at revision {self.revision}, which this vault does not "
                f"know (its newest is {self.head}): it was migrated by a newer vault"
            )
        return None


@functools.cache
def scripts(location: Path) -> ScriptDirectory:
    """The revision scripts in `location` (read once per process)."""
    return ScriptDirectory(str(location))


def _context(conn: Connection, schema: Schema) -> MigrationContext:
    return MigrationContext.configure(conn, opts={"version_table": schema.version_table})


def _status(conn: Connection, schema: Schema) -> Status:
    script = scripts(schema.script_location)
    head = script.get_current_head()
    assert head is not None, f"no revision in {schema.script_location}"
    tables = set(inspect(conn).get_table_names())  # one catalog query: the cost of a check
    heads = _recorded(conn, schema) if schema.version_table in tables else ()
    if not heads:
        state = State.UNVERSIONED if tables & set(schema.metadata.tables) else State.EMPTY
        return Status(schema.name, state, None, head)
    if heads == (head,):
        state = State.CURRENT
    elif len(heads) == 1 and heads[0] in {s.revision for s in script.walk_revisions()}:
        state = State.BEHIND
    else:
        state = State.NEWER
    return Status(schema.name, state, ",".join(heads), head)


def _recorded(conn: Connection, schema: Schema) -> tuple[str, ...]:
    version = table(schema.version_table, column("version_num"))
    return tuple(sorted(conn.execute(select(version.c.version_num)).scalars()))


def status(engine: Engine, schema: Schema) -> Status:
    with guard(), engine.connect() as conn:
        return _status(conn, schema)


def prepare(engine: Engine, schema: Schema) -> None:
    """Creates the schema in an empty database; refuses one that is not at head."""
    found = status(engine, schema)
    if found.state is State.EMPTY:
        with guard(), exclusive(engine, _lock(schema)) as conn:
            found = _status(conn, schema)  # another process may have been first
            if found.state is State.EMPTY:
                schema.metadata.create_all(conn, checkfirst=False)
                _context(conn, schema).stamp(scripts(schema.script_location), "head")
                return
    if found.state is State.NEWER and expands_only(engine, schema):
        _log.warning(
            "the %s database schema is at revision %s, newer than this vault's %s, and "
            "only adds to it: running",
            schema.name,
            found.revision,
            found.head,
        )
        return
    problem = found.problem()
    if problem is not None:
        raise SchemaVersionError(problem)


def expands_only(engine: Engine, schema: Schema) -> bool:
    """Whether the database differs from this vault's models only by additions its
    statements never touch: columns it may leave out of its inserts (nullable, or with a
    server default), non-unique indexes, and tables (never compared). A changed type, a
    missing column, a tightened constraint or a unique index are not."""
    with guard(), engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=context_options(schema))
        return all(_is_addition(diff) for diff in compare_metadata(context, schema.metadata))


def _is_addition(diff: Any) -> bool:
    if isinstance(diff, list):  # a column modified
        return False
    kind = diff[0]
    if kind == "remove_index":
        return not diff[1].unique
    if kind == "remove_column":
        column = diff[3]
        return bool(column.nullable) or column.server_default is not None
    return False


def _lock(schema: Schema) -> str:
    return f"dossier-vault/{schema.version_table}"


def upgrade(engine: Engine, schema: Schema) -> tuple[Status, Status]:
    """Migrates the schema to head (an empty one too) and checks it equals the models,
    in one transaction: on any failure nothing changes. Returns (before, after)."""
    with guard(), exclusive(engine, _lock(schema), altering=True) as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        before = _status(conn, schema)
        if before.state is State.NEWER:
            raise SchemaVersionError(str(before.problem()))
        if before.state is State.UNVERSIONED:  # vaults made the first revision's schema
            _context(conn, schema).stamp(scripts(schema.script_location), _base(schema))
        if before.state is not State.CURRENT:
            _run_revisions(conn, schema)
        found = differences(conn, schema)
        if found:
            raise SchemaVersionError(
                f"after the upgrade, the {schema.name} database still differs from this "
                f"vault's models ({'; '.join(found[:5])}); nothing was changed"
            )
        return before, _status(conn, schema)


def _run_revisions(conn: Connection, schema: Schema) -> None:
    try:
        command.upgrade(alembic_config(conn, schema), "head")
    except sa_exc.DBAPIError as error:
        if error.connection_invalidated:
            raise  # the connection was lost: guard() says "unavailable"
        raise SchemaVersionError(  # the driver's text may quote rows: only its kind here
            f"upgrading the {schema.name} database failed "
            f"({type(error.orig).__name__}); nothing was changed"
        ) from error


def _base(schema: Schema) -> str:
    base = scripts(schema.script_location).get_base()
    assert base is not None
    return base


def differences(conn: Connection, schema: Schema) -> list[str]:
    """How the schema in the database differs from the models (empty when equal), as
    short descriptions naming tables, columns and indexes (never data)."""
    context = MigrationContext.configure(conn, opts=context_options(schema))
    return [_describe(diff) for diff in compare_metadata(context, schema.metadata)]


def _describe(diff: Any) -> str:
    if isinstance(diff, list):  # column modifications come as lists of tuples
        return ", ".join(_describe(item) for item in diff)
    kind, *rest = diff
    names = [_name(item) for item in rest]
    return " ".join([kind, *[name for name in names if name]])


def _name(item: Any) -> str:
    if isinstance(item, str):
        return item
    table = getattr(item, "table", None)
    name = getattr(item, "name", None)
    if table is not None and name is not None and getattr(table, "name", None):
        return f"{table.name}.{name}"
    return str(name) if name else ""


def context_options(schema: Schema) -> dict[str, Any]:
    """How Alembic sees this schema: its version table, its models, and only its own
    tables (the other schema's tables may share the database)."""
    tables = set(schema.metadata.tables)

    def include_name(name: str | None, type_: str, _parents: Any) -> bool:
        return type_ != "table" or name in tables

    return {
        "version_table": schema.version_table,
        "target_metadata": schema.metadata,
        "include_name": include_name,
        "compare_type": True,
        "compare_server_default": True,
        "render_as_batch": True,  # SQLite alters tables by copying them: batch mode
    }


def alembic_config(conn: Connection, schema: Schema) -> AlembicConfig:
    """An in-memory Alembic configuration running `schema`'s scripts on `conn`."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(schema.script_location).replace("%", "%%"))
    config.attributes["connection"] = conn
    config.attributes["schema"] = schema
    return config


def run_env() -> None:
    """The body of each script directory's env.py: runs the migrations Alembic set up
    on the connection and schema that `alembic_config` put in its configuration."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    schema = context.config.attributes.get("schema")
    if not isinstance(connection, Connection) or not isinstance(schema, Schema):
        raise ConfigurationError(f"run migrations with `{UPGRADE_COMMAND}`, not alembic")
    context.configure(connection=connection, **context_options(schema))
    with context.begin_transaction():
        context.run_migrations()
