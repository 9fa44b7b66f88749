"""`dossier-vault db upgrade|current`, and a server refusing a schema behind head."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import inspect

from tests.conftest import CLI, free_port, run
from tests.test_migrations import head, made_before_migrations
from vault.cli import main
from vault.cli.exitcodes import EXIT_CODES
from vault.config import Config
from vault.errors import SchemaVersionError
from vault.migrations import INDEX, JOURNAL, SCHEMAS
from vault.server.app import BackgroundServer
from vault.sqlstore import make_engine

BEHIND = EXIT_CODES[SchemaVersionError]


def _made_before_migrations(url: str) -> None:
    engine = make_engine(url)
    made_before_migrations(engine, *SCHEMAS)
    engine.dispose()


def _json(result: subprocess.CompletedProcess[bytes]) -> list[dict[str, object]]:
    found: list[dict[str, object]] = json.loads(result.stdout)
    return found


def test_upgrade_and_current_with_the_journal_in_its_own_database(
    db_url: str, tmp_path: Path
) -> None:
    journal_url = f"sqlite:///{tmp_path / 'journal.sqlite3'}"
    env = {
        **os.environ,
        "VAULT_DATA_DIR": str(tmp_path / "var"),
        "VAULT_DATABASE_URL": db_url,
        "VAULT_JOURNAL_DATABASE_URL": journal_url,
    }
    empty = run(env, "db", "current", "--json")
    assert empty.returncode == BEHIND, empty.stderr
    assert [(s["schema"], s["state"], s["at_head"]) for s in _json(empty)] == [
        ("index", "empty", False),
        ("journal", "empty", False),
    ]

    upgraded = run(env, "db", "upgrade", "--json")
    assert upgraded.returncode == 0, upgraded.stderr
    heads = [head(INDEX), head(JOURNAL)]
    assert [(s["from_state"], s["to"]) for s in _json(upgraded)] == [
        ("empty", revision) for revision in heads
    ]

    current = run(env, "db", "current", "--json")
    assert current.returncode == 0, current.stderr
    assert [(s["revision"], s["at_head"]) for s in _json(current)] == [
        (revision, True) for revision in heads
    ]
    assert "journal.sqlite3" in str(_json(current)[1]["database"])

    again = run(env, "db", "upgrade")
    assert again.returncode == 0, again.stderr
    assert again.stdout.decode().splitlines() == [
        f"{name}: {revision} -> {revision} (already at head)"
        for name, revision in zip(("index", "journal"), heads, strict=True)
    ]
    for url, schema, other in ((db_url, INDEX, JOURNAL), (journal_url, JOURNAL, INDEX)):
        engine = make_engine(url)
        tables = set(inspect(engine).get_table_names())
        engine.dispose()
        assert schema.version_table in tables
        assert other.version_table not in tables
        assert not tables & set(other.metadata.tables)


def test_the_server_refuses_a_schema_behind_head_until_db_upgrade(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config(
        listen="127.0.0.1:0", data_dir=tmp_path / "data", database_url=db_url, workers=2
    )
    _made_before_migrations(db_url)
    with pytest.raises(SchemaVersionError) as refused:
        BackgroundServer(config).start()
    assert "the index database has the vault's tables but no schema version" in str(refused.value)
    assert "run `dossier-vault db upgrade`" in str(refused.value)

    monkeypatch.setenv("VAULT_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("VAULT_DATABASE_URL", db_url)
    monkeypatch.delenv("VAULT_JOURNAL_DATABASE_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    server = BackgroundServer(config).start()
    server.stop()


def test_serve_exits_with_the_command_to_run(tmp_path: Path) -> None:
    """`make run` on a data directory that an older vault left: told what to do."""
    data = tmp_path / "var"
    data.mkdir()
    _made_before_migrations(f"sqlite:///{data / 'index.sqlite3'}")
    env = {
        **os.environ,
        "VAULT_DATA_DIR": str(data),
        "VAULT_LISTEN": f"127.0.0.1:{free_port()}",
    }
    served = subprocess.run([*CLI, "serve"], env=env, capture_output=True, timeout=60, check=False)
    assert served.returncode == BEHIND
    assert "stop the servers and run `dossier-vault db upgrade`" in served.stderr.decode()
    assert run(env, "db", "upgrade").returncode == 0
    assert run(env, "db", "current").returncode == 0
