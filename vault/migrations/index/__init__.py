"""The index schema's Alembic scripts: env.py, and one file per revision in versions/."""
