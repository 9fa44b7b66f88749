"""Alembic's entry point for the journal schema: see `vault.migrations.run_env`."""

from vault.migrations import run_env

run_env()
