"""Draft the next revision of the index or journal schema from the models.

`python tools/new_migration.py index "documents: add a language column"` migrates a
scratch database to head with the existing revisions, compares it with the models
(vault/index/schema.py or vault/journal/sql.py) and writes what differs as
vault/migrations/<schema>/versions/<NNNN>_<slug>.py. Read and finish the draft (see
vault/migrations/README.md), then `ruff format` it. `--database-url` drafts against
PostgreSQL instead of a scratch SQLite file (an empty schema, e.g. a fresh database).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from alembic import command

from vault import migrations
from vault.sqlstore import make_engine


def next_revision_id(schema: migrations.Schema) -> str:
    """0001, 0002...: one more than the highest numbered revision."""
    numbers = [
        int(match.group(1))
        for path in (schema.script_location / "versions").glob("*.py")
        if (match := re.match(r"(\d{4})_", path.name))
    ]
    return f"{max(numbers, default=0) + 1:04d}"


def draft(schema: migrations.Schema, message: str, url: str) -> Path:
    engine = make_engine(url)
    with engine.begin() as conn:
        config = migrations.alembic_config(conn, schema)
        command.upgrade(config, "head")
        script = command.revision(
            config, message, autogenerate=True, rev_id=next_revision_id(schema)
        )
    engine.dispose()
    assert script is not None
    assert not isinstance(script, list)
    return Path(script.path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("schema", choices=[schema.name for schema in migrations.SCHEMAS])
    parser.add_argument("message", help="what the revision changes, in a few words")
    parser.add_argument("--database-url", help="an empty database (default: scratch SQLite)")
    args = parser.parse_args(argv)
    schema = next(s for s in migrations.SCHEMAS if s.name == args.schema)
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'draft.sqlite3'}"
        path = draft(schema, args.message, url)
    print(f"wrote {path}: read it, finish it, `ruff format` it, then run the tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
