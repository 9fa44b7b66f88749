"""The access journal: a SHA-256 hash chain of every access decision.

`chain` is the pure format (canonical bytes, hashes, verification); `store` is the
Protocol the service appends through; `sql` is its SQLAlchemy adapter.
"""
