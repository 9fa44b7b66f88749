"""The index schema's revisions, oldest first (see vault/migrations/README.md)."""
