"""The metadata index: dossiers, their wrapped keys, documents and their versions.

`base` holds the `Index` Protocol and the records it speaks; `sql` the SQLAlchemy
adapter (SQLite or PostgreSQL). The index holds opaque ids, dates, sizes, categories and
ciphertext (wrapped keys, sealed metadata); never an INS in clear, never a title.
"""
