"""The index's port for dossier keys (`KeyIndex`): read, added, rewrapped under a new
master key version, documents re-encrypted under a new dossier key version, old versions
destroyed (crypto-shredding). Used by key rotation (vault/rotation.py), the gate (a
dossier's key) and the retention job. Not here: the SQL adapter (vault/index/sql/keys.py),
the wrapping itself (vault/crypto/dossierkeys.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from vault.crypto.keyprovider import WrappedKey
from vault.index.records import DossierKeyRecord, VersionRecord


class KeyIndex(Protocol):
    """Dossier keys: read, added, rewrapped under a new master version, documents
    re-encrypted under a new dossier key version, old versions destroyed."""

    def dossier_key(self, dossier_id: uuid.UUID, version: int) -> DossierKeyRecord:
        """The wrapped dossier key; IntegrityError if the index lost it."""
        ...

    def add_dossier_key(self, key: DossierKeyRecord, make_current: bool) -> None:
        """Stores a new dossier key version (and makes new writes use it)."""
        ...

    def dossier_keys_not_under(
        self, master_version: int, limit: int, after: DossierKeyRecord | None = None
    ) -> list[DossierKeyRecord]:
        """Dossier keys wrapped by any master version other than `master_version`, in
        (dossier, version) order, from the one following `after`: a pass over every key
        reads each once, whatever the number of batches."""
        ...

    def rewrap_dossier_keys(self, pairs: Sequence[tuple[DossierKeyRecord, WrappedKey]]) -> int:
        """Replaces each wrapped key whose row still holds the old wrapping (so a
        concurrent rotation never loses one); returns how many rows changed."""
        ...

    def master_version_counts(self) -> dict[int, int]:
        """How many dossier keys each master version wraps."""
        ...

    def versions_not_under_key(
        self, dossier_id: uuid.UUID, key_version: int, limit: int
    ) -> list[VersionRecord]:
        """Committed versions of the dossier sealed under another dossier key version."""
        ...

    def uploads_under_other_key(self, dossier_id: uuid.UUID, key_version: int) -> int:
        """Pending versions of the dossier begun under another dossier key version."""
        ...

    def replace_encryption(self, old: VersionRecord, new: VersionRecord) -> bool:
        """Points a version at its re-encrypted blob and keys, if the row is still `old`."""
        ...

    def destroy_dossier_keys(self, dossier_id: uuid.UUID, below_version: int | None) -> int:
        """Deletes the dossier's key versions below `below_version` that no version row
        (any status) still uses, in one statement; None: every version, used or not
        (crypto-shredding). Returns how many were destroyed."""
        ...
