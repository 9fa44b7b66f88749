"""The journal schema's revisions, oldest first (see vault/migrations/README.md)."""
