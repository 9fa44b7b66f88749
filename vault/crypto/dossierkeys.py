"""Dossier keys in clear: a version's wrapped key read from the index, unwrapped by the
key provider under its context (sealed.dossier_key_context).

Not here: making, rewrapping or destroying dossier keys (vault/rotation.py), keeping them
(the index's `KeyIndex`, which satisfies `WrappedDossierKeys`), or the master key
(`keyprovider`).
"""

from __future__ import annotations

import uuid
from typing import Protocol

from vault.crypto import sealed
from vault.crypto.keyprovider import KeyProvider, WrappedKey
from vault.errors import FailedPreconditionError


class WrappedKeyRecord(Protocol):
    """A wrapped dossier key as the index keeps it (`DossierKeyRecord`)."""

    @property
    def dossier_id(self) -> uuid.UUID: ...

    @property
    def version(self) -> int: ...

    @property
    def wrapped(self) -> WrappedKey: ...


class WrappedDossierKeys(Protocol):
    """Where wrapped dossier keys are kept (the index); crypto needs nothing else of it."""

    def dossier_key(self, dossier_id: uuid.UUID, version: int) -> WrappedKeyRecord: ...


def unwrap_dossier_key(
    index: WrappedDossierKeys, keys: KeyProvider, dossier_id: uuid.UUID, version: int
) -> bytes:
    """A dossier key in clear, refreshing the provider once if its master version is new."""
    return unwrap_key_record(keys, index.dossier_key(dossier_id, version))


def unwrap_key_record(keys: KeyProvider, record: WrappedKeyRecord) -> bytes:
    """The dossier key `record` holds (read from the index already), in clear."""
    context = sealed.dossier_key_context(record.dossier_id, record.version)
    try:
        return keys.unwrap(record.wrapped, context)
    except FailedPreconditionError:  # a master version this process has not seen yet
        keys.refresh()
        return keys.unwrap(record.wrapped, context)
