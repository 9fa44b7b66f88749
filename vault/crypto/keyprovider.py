"""The master-key interface: wrapping and keyed hashing happen inside the provider.

The master key (KEK) never leaves its provider: callers hand it a dossier key to wrap or
unwrap, with a context (the ids the key belongs to) that the provider binds as associated
data, the way a cloud KMS binds an encryption context or Vault Transit a `context`.
The provider also computes blind indexes (keyed hashes of patient identifiers) under an
index key it holds. Implementations: `localkeys.LocalKeyFileProvider` (embedded default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A key wrapped by master key `master_version`; `blob` is opaque to callers."""

    master_version: int
    blob: bytes


class KeyProvider(Protocol):
    @property
    def current_version(self) -> int:
        """The master key version new wraps use."""
        ...

    def wrap(self, key: bytes, context: bytes) -> WrappedKey:
        """Wraps `key` under the current master version, bound to `context`."""
        ...

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        """Unwraps, or raises IntegrityError (wrong context, tampered) or
        FailedPreconditionError (that master version is unknown or retired)."""
        ...

    def refresh(self) -> int:
        """Rereads which master versions exist (after a rotation or a retirement);
        returns the current one."""
        ...

    def blind_index(self, data: bytes) -> bytes:
        """HMAC-SHA256 of `data` under the index key: stable across master rotations."""
        ...
