"""Schema migrations on SQLite and PostgreSQL (vault/migrations).

An empty database migrated revision by revision equals the models (compare_metadata),
and has the very tables, columns, indexes (partial ones included) and constraints that
`create_all` gives, which is how `create_schema()` initialises an empty database. A
schema behind head, unversioned or newer is refused; `upgrade` brings the first two to
head in one transaction that a failure leaves untouched. Revisions past the real head
are written here, in a copy of the index's scripts, to exercise "behind". Nothing here
assumes which revision is the head.
"""

from __future__ import annotations

import multiprocessing
import re
import shutil
import threading
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    column,
    func,
    select,
    table,
    text,
    update,
)

from vault import migrations
from vault.crypto.keyprovider import WrappedKey
from vault.domain.ids import new_id
from vault.errors import SchemaVersionError, VaultError
from vault.index.base import DossierKeyRecord, DossierRecord
from vault.index.schema import Base, DossierRow
from vault.index.sql import SqlIndex
from vault.journal.sql import SqlJournal, head_table
from vault.migrations import INDEX, JOURNAL, SCHEMAS, Schema, State
from vault.sqlstore import exclusive, make_engine

ids = [schema.name for schema in SCHEMAS]


def _migrate(engine: Engine, schema: Schema, revision: str, *, down: bool = False) -> None:
    with exclusive(engine, "test", altering=True) as conn:
        config = migrations.alembic_config(conn, schema)
        (command.downgrade if down else command.upgrade)(config, revision)


def _revisions(schema: Schema) -> list[str]:
    """Oldest first."""
    script = migrations.scripts(schema.script_location)
    return [s.revision for s in reversed(list(script.walk_revisions()))]


def _differences(engine: Engine, schema: Schema) -> list[str]:
    with engine.connect() as conn:
        return migrations.differences(conn, schema)


# -- what a database holds, compared exactly ----------------------------------------------


def fingerprint(engine: Engine) -> dict[str, Any]:
    """The vault's tables as the database describes them (version tables left out)."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            return _sqlite_fingerprint(conn)
        return _postgresql_fingerprint(conn)


def _sqlite_fingerprint(conn: Connection) -> dict[str, Any]:
    names = conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' "
        "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'alembic_version%'"
    )
    described: dict[str, Any] = {}
    for (name,) in names.all():
        indexes = []
        for _, index, unique, origin, partial in conn.exec_driver_sql(
            f"PRAGMA index_list('{name}')"
        ).all():
            columns = conn.exec_driver_sql(f"PRAGMA index_info('{index}')").all()
            sql = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (index,)
            ).scalar()
            normal = None if sql is None else re.sub(r"\s+", " ", sql).strip()
            indexes.append((index, unique, origin, partial, columns, normal))
        described[name] = {
            "columns": conn.exec_driver_sql(f"PRAGMA table_xinfo('{name}')").all(),
            "foreign_keys": sorted(
                tuple(row[2:])
                for row in conn.exec_driver_sql(f"PRAGMA foreign_key_list('{name}')").all()
            ),
            "indexes": sorted(indexes),
        }
    return described


def _postgresql_fingerprint(conn: Connection) -> dict[str, Any]:
    queries = {
        "columns": "SELECT table_name, column_name, data_type, character_maximum_length, "
        "is_nullable, column_default FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name NOT LIKE 'alembic_version%'",
        "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = current_schema() AND tablename NOT LIKE 'alembic_version%'",
        "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE connamespace = current_schema()::regnamespace "
        "AND conrelid::regclass::text NOT LIKE 'alembic_version%'",
        "sequences": "SELECT sequence_name, data_type FROM information_schema.sequences "
        "WHERE sequence_schema = current_schema()",
    }
    return {kind: sorted(conn.execute(text(sql)).all()) for kind, sql in queries.items()}


# -- the revisions ---------------------------------------------------------------------


@pytest.mark.parametrize("schema", SCHEMAS, ids=ids)
def test_each_schema_is_one_line_of_numbered_revisions(schema: Schema) -> None:
    script = migrations.scripts(schema.script_location)
    assert script.get_bases() == ["0001"]
    assert len(script.get_heads()) == 1
    revisions = _revisions(schema)
    assert revisions == [f"{n:04d}" for n in range(1, len(revisions) + 1)]
    for revision in revisions:
        found = script.get_revision(revision)
        assert found is not None
        path = Path(found.path)
        assert path.name.startswith(f"{revision}_")


@pytest.mark.parametrize("schema", SCHEMAS, ids=ids)
def test_an_empty_database_migrated_revision_by_revision_equals_the_models(
    db_url: str, schema: Schema
) -> None:
    engine = make_engine(db_url)
    for revision in _revisions(schema):
        _migrate(engine, schema, revision)
        assert migrations.status(engine, schema).revision == revision
    assert migrations.status(engine, schema).state is State.CURRENT
    assert _differences(engine, schema) == []
    migrated = fingerprint(engine)

    _migrate(engine, schema, "base", down=True)  # every downgrade runs too
    assert not any(fingerprint(engine).values())
    migrations.prepare(engine, schema)  # create_all and stamp, as for any empty database
    assert migrations.status(engine, schema).state is State.CURRENT
    assert fingerprint(engine) == migrated
    engine.dispose()


def test_both_schemas_share_one_database_each_with_its_version_table(db_url: str) -> None:
    engine = make_engine(db_url)
    for schema in SCHEMAS:
        migrations.upgrade(engine, schema)
    with engine.connect() as conn:
        for schema in SCHEMAS:
            version = conn.execute(text(f"SELECT version_num FROM {schema.version_table}"))
            assert version.scalars().all() == [migrations.status(engine, schema).head]
            assert migrations.differences(conn, schema) == []
    engine.dispose()


# -- empty, behind, unversioned, newer ---------------------------------------------------


def made_before_migrations(engine: Engine, *schemas: Schema) -> None:
    """What vaults made before migrations: the first revision's tables, no version."""
    for schema in schemas:
        _migrate(engine, schema, _revisions(schema)[0])
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {schema.version_table}"))


def head(schema: Schema) -> str:
    return _revisions(schema)[-1]


def _add_dossier(engine: Engine) -> DossierRecord:
    record = DossierRecord(new_id(), b"p" * 32, created_us=1)
    key = DossierKeyRecord(record.dossier_id, 1, WrappedKey(1, b"wrapped"))
    SqlIndex(engine).add_dossier(record, key)
    return record


def _add_first_revision_dossier(engine: Engine) -> None:
    """A dossier row as revision 0001 stored it (today's code writes later columns)."""
    dossiers = Table(
        "dossiers",
        MetaData(),
        Column("id", Uuid, primary_key=True),
        Column("patient_index", LargeBinary),
        Column("state", String),
        Column("created_us", BigInteger),
        Column("key_version", Integer),
        Column("emergency_refused", Boolean),
    )
    with engine.begin() as conn:
        conn.execute(
            dossiers.insert().values(
                id=new_id(),
                patient_index=b"p" * 32,
                state="active",
                created_us=1,
                key_version=1,
                emergency_refused=False,
            )
        )


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_an_empty_database_is_created_at_head(db_url: str) -> None:
    engine = make_engine(db_url)
    assert migrations.status(engine, INDEX).state is State.EMPTY
    SqlIndex(engine).create_schema()
    found = migrations.status(engine, INDEX)
    assert (found.state, found.revision) == (State.CURRENT, found.head)
    assert migrations.status(engine, JOURNAL).state is State.EMPTY  # separately versioned
    engine.dispose()


def test_an_unversioned_database_is_refused_then_adopted_by_upgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    made_before_migrations(engine, INDEX, JOURNAL)
    _add_first_revision_dossier(engine)
    for schema, store in ((INDEX, SqlIndex(engine)), (JOURNAL, SqlJournal(engine))):
        assert migrations.status(engine, schema).state is State.UNVERSIONED
        with pytest.raises(SchemaVersionError, match="run `dossier-vault db upgrade`") as e:
            store.create_schema()
        assert f"the {schema.name} database has the vault's tables" in str(e.value)
        before, after = migrations.upgrade(engine, schema)
        assert (before.state, after.state) == (State.UNVERSIONED, State.CURRENT)
        store.create_schema()
    assert _count(engine, "dossiers") == 1
    engine.dispose()


def test_an_unversioned_database_unlike_the_first_revision_is_left_as_it_was(
    db_url: str,
) -> None:
    engine = make_engine(db_url)
    partial = MetaData()
    Base.metadata.tables["dossiers"].to_metadata(partial)
    partial.create_all(engine)
    with pytest.raises(SchemaVersionError, match="nothing was changed"):
        migrations.upgrade(engine, INDEX)
    assert migrations.status(engine, INDEX).state is State.UNVERSIONED
    engine.dispose()


def _newer_revision(engine: Engine, *statements: str) -> None:
    """What a newer vault's revision 0999 would have done to the index database."""
    version = table(INDEX.version_table, column("version_num"))
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
        conn.execute(update(version).values(version_num="0999"))


@pytest.mark.parametrize(
    "statements",
    [
        (),
        (
            "ALTER TABLE documents ADD COLUMN language VARCHAR(8)",
            "ALTER TABLE documents ADD COLUMN pages INTEGER DEFAULT 0 NOT NULL",
            "CREATE INDEX ix_documents_language ON documents (language)",
            "CREATE TABLE document_tags (id INTEGER PRIMARY KEY)",
        ),
    ],
    ids=["nothing", "columns-index-table"],
)
def test_an_older_vault_runs_on_a_newer_schema_that_only_adds(
    db_url: str, statements: tuple[str, ...]
) -> None:
    """A rolling upgrade: the database migrated first, older servers keep running (and
    restarting) until they are replaced, since nothing they use changed."""
    engine = make_engine(db_url)
    migrations.prepare(engine, INDEX)
    _newer_revision(engine, *statements)
    migrations.prepare(engine, INDEX)  # runs, with a warning
    index = SqlIndex(engine)
    record = DossierRecord(new_id(), b"p" * 32, created_us=1)
    index.add_dossier(record, DossierKeyRecord(record.dossier_id, 1, WrappedKey(1, b"w")))
    assert index.dossier(record.dossier_id) == record
    assert migrations.status(engine, INDEX).state is State.NEWER
    with pytest.raises(SchemaVersionError, match="0999, which this vault does not know"):
        migrations.upgrade(engine, INDEX)  # never a downgrade
    engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE documents ADD COLUMN language VARCHAR(8) NOT NULL",
        "CREATE UNIQUE INDEX ix_documents_author ON documents (author)",
        "ALTER TABLE legal_holds DROP COLUMN release_reason",
    ],
    ids=["column-required-by-inserts", "unique-index", "column-dropped"],
)
def test_an_older_vault_refuses_a_newer_schema_that_changed_what_it_uses(
    db_url: str, statement: str
) -> None:
    engine = make_engine(db_url)
    migrations.prepare(engine, INDEX)
    _newer_revision(engine, statement)
    with pytest.raises(SchemaVersionError, match="0999, which this vault does not know"):
        migrations.prepare(engine, INDEX)
    engine.dispose()


_REVISION = '''"""{doc}"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "{revision}"
down_revision: str | None = "{down}"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''

_WIDEN_STATE = """    with op.batch_alter_table("dossiers") as batch:  # SQLite copies the table
        batch.alter_column(
            "state", type_=sa.String({new}), existing_type=sa.String({old}), existing_nullable=False
        )"""


def _index_with(tmp_path: Path, revisions: list[tuple[str, str, str]], models: MetaData) -> Schema:
    """A copy of the index's scripts with `revisions` (doc, upgrade, downgrade) after
    the real ones, and the models they lead to."""
    location = tmp_path / "index-scripts"
    shutil.copytree(INDEX.script_location, location, ignore=shutil.ignore_patterns("__pycache__"))
    down = _revisions(INDEX)[-1]
    for doc, upgrade, downgrade in revisions:
        revision = f"{int(down) + 1:04d}"
        source = _REVISION.format(
            doc=doc, revision=revision, down=down, upgrade=upgrade, downgrade=downgrade
        )
        (location / "versions" / f"{revision}_test.py").write_text(source)
        down = revision
    return replace(INDEX, script_location=location, models=lambda: models)


def _models_with_state_length(length: int) -> MetaData:
    models = MetaData()
    for model in Base.metadata.sorted_tables:
        model.to_metadata(models)
    models.tables[DossierRow.__tablename__].c.state.type = String(length)
    return models


def test_a_schema_behind_head_is_refused_then_upgraded_with_its_rows(
    db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url)
    SqlIndex(engine).create_schema()  # at the real head
    dossier = _add_dossier(engine)
    next_head = f"{int(head(INDEX)) + 1:04d}"
    widen = _WIDEN_STATE.format(new=40, old=16)
    narrow = _WIDEN_STATE.format(new=16, old=40)
    newer = _index_with(tmp_path, [("widen state", widen, narrow)], _models_with_state_length(40))

    found = migrations.status(engine, newer)
    assert (found.state, found.head) == (State.BEHIND, next_head)
    with pytest.raises(SchemaVersionError) as refused:
        migrations.prepare(engine, newer)
    assert str(refused.value) == (
        f"the index database schema is at revision {found.revision}, this vault needs "
        f"{next_head}: stop the servers and run `dossier-vault db upgrade`"
    )
    before, after = migrations.upgrade(engine, newer)  # dossiers is copied on SQLite
    assert (before.state, after.state, after.revision) == (State.BEHIND, State.CURRENT, next_head)
    assert SqlIndex(engine).dossier(dossier.dossier_id) == dossier
    assert migrations.upgrade(engine, newer)[0].state is State.CURRENT  # idempotent
    with engine.connect() as conn:  # foreign keys are back on for the pool's connections
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_a_failing_revision_changes_nothing(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    SqlIndex(engine).create_schema()
    _add_dossier(engine)
    orphaning = "    op.execute('DELETE FROM dossiers')  # its keys would point nowhere"
    newer = _index_with(tmp_path, [("orphans keys", orphaning, "    pass")], Base.metadata)
    with pytest.raises(VaultError):
        migrations.upgrade(engine, newer)
    assert migrations.status(engine, newer).state is State.BEHIND
    assert (_count(engine, "dossiers"), _count(engine, "dossier_keys")) == (1, 1)
    engine.dispose()


# -- concurrent creation -------------------------------------------------------------


def _create_schemas(url: str, start: Any) -> None:
    engine = make_engine(url)
    start.wait(timeout=60)
    SqlIndex(engine).create_schema()
    SqlJournal(engine).create_schema()
    engine.dispose()


def test_concurrent_creation_of_an_empty_database_is_safe(db_url: str) -> None:
    """Two processes and two threads (each its own engine) create one database at once."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(4)
    errors: list[BaseException] = []

    def create() -> None:
        try:
            _create_schemas(db_url, start)
        except BaseException as error:
            errors.append(error)

    processes = [context.Process(target=_create_schemas, args=(db_url, start)) for _ in range(2)]
    threads = [threading.Thread(target=create) for _ in range(2)]
    workers: list[Any] = [*processes, *threads]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert errors == []
    assert [process.exitcode for process in processes] == [0, 0]
    engine = make_engine(db_url)
    for schema in SCHEMAS:
        assert migrations.status(engine, schema).state is State.CURRENT
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(head_table)).scalar() == 1
    engine.dispose()


def test_the_wheel_ships_every_migration_file() -> None:
    """Revisions are modules (packages ship them); the rest must be package data."""
    root = Path(__file__).resolve().parent.parent
    settings = tomllib.loads((root / "pyproject.toml").read_text())
    package_data = settings["tool"]["setuptools"]["package-data"]
    for path in (root / "vault" / "migrations").rglob("*"):
        if path.is_dir() or path.suffix in {".py", ".pyc"}:
            if path.is_dir() and path.name != "__pycache__":
                assert (path / "__init__.py").exists(), path
            continue
        package = ".".join(path.parent.relative_to(root).parts)
        assert path.name in package_data.get(package, []), path
