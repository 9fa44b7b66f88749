"""The holder's sealed date of birth in the index: its record and its port.

The box is opened by the gate (the representative's standing), set or corrected after
creation (service/births.py) and re-sealed by the dossier key rotation; the index only
stores it (docs/format.md, "Sealed box v1", use "birth date"). Not here: the SQL adapter
(vault/index/sql/births.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SealedBirth:
    """A date of birth sealed under version `key_version` of its dossier's key."""

    dossier_id: uuid.UUID
    key_version: int
    sealed: bytes


class BirthIndex(Protocol):
    def sealed_birth(self, dossier_id: uuid.UUID) -> SealedBirth | None:
        """The dossier's sealed date of birth, if it recorded one."""
        ...

    def set_birth(self, birth: SealedBirth) -> None:
        """Records `birth` as its dossier's date of birth, in place of any recorded one
        (a correction after creation)."""
        ...

    def reseal_birth(self, old: SealedBirth, new: SealedBirth) -> bool:
        """Replaces `old` by `new` if the index still holds `old` (compare-and-set)."""
        ...
