"""Envelope encryption: master key -> dossier keys -> document keys -> segmented objects.

`sealed` wraps keys and metadata (sealed box v1), `objectformat` encrypts documents in
authenticated segments (object format v1), `keyprovider` is the Protocol behind which the
master key lives, `localkeys` its embedded, file-based implementation. Every byte of
every format is specified in docs/format.md, with test vectors in tests/vectors/.
Only `cryptography` (OpenSSL) primitives are used: AES-256-GCM, HKDF-SHA256, HMAC-SHA256.
"""
