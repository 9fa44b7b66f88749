"""The journal schema's Alembic scripts: env.py, and one file per revision in versions/."""
