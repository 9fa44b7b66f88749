"""The metadata index: dossiers, their wrapped keys, documents and their versions.

`records` holds the frozen records the index speaks; `base` its ports, one Protocol per
role and `Index` their union; `sql` the SQLAlchemy adapter (SQLite or PostgreSQL), one
module per role. The index holds opaque ids, dates, sizes, categories and ciphertext
(wrapped keys, sealed metadata); never an INS in clear, never a title.
"""
