"""Dossier keys in clear: a version's wrapped key read from the index, unwrapped by the
key provider under its context (sealed.dossier_key_context).

Not here: making, rewrapping or destroying dossier keys (vault/rotation.py), keeping them
(the index's `KeyIndex`), or the master key (`keyprovider`).
"""

from __future__ import annotations

import uuid

from vault.crypto import sealed
from vault.crypto.keyprovider import KeyProvider
from vault.errors import FailedPreconditionError
from vault.index.base import DossierKeyRecord, KeyIndex


def unwrap_dossier_key(
    index: KeyIndex, keys: KeyProvider, dossier_id: uuid.UUID, version: int
) -> bytes:
    """A dossier key in clear, refreshing the provider once if its master version is new."""
    return unwrap_key_record(keys, index.dossier_key(dossier_id, version))


def unwrap_key_record(keys: KeyProvider, record: DossierKeyRecord) -> bytes:
    """The dossier key `record` holds (read from the index already), in clear."""
    context = sealed.dossier_key_context(record.dossier_id, record.version)
    try:
        return keys.unwrap(record.wrapped, context)
    except FailedPreconditionError:  # a master version this process has not seen yet
        keys.refresh()
        return keys.unwrap(record.wrapped, context)
