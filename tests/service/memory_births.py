"""`MemoryBirths`: the `BirthIndex` port in a dict, for `MemoryIndex` (the SQL adapter's
semantics: re-sealed only if the box is still the one read)."""

from __future__ import annotations

import threading
import uuid

from vault.index.births import SealedBirth


class MemoryBirths:
    def __init__(self) -> None:
        self._births_lock = threading.Lock()
        self._births: dict[uuid.UUID, SealedBirth] = {}

    def _add_birth(self, birth: SealedBirth) -> None:
        with self._births_lock:
            self._births[birth.dossier_id] = birth

    def _birth_versions(self, dossier_id: uuid.UUID) -> set[int]:
        birth = self._births.get(dossier_id)
        return set() if birth is None else {birth.key_version}

    def sealed_birth(self, dossier_id: uuid.UUID) -> SealedBirth | None:
        return self._births.get(dossier_id)

    def set_birth(self, birth: SealedBirth) -> None:
        self._add_birth(birth)

    def reseal_birth(self, old: SealedBirth, new: SealedBirth) -> bool:
        with self._births_lock:
            if self._births.get(old.dossier_id) != old:
                return False
            self._births[old.dossier_id] = new
            return True
