"""`MemoryOverrides`: the `OverrideIndex` port in a dict, for `MemoryIndex` (the SQL
adapter's semantics: one override per dossier, professional and category, each change
in the access trail, `MemoryIndex._changes`)."""

from __future__ import annotations

import threading
import uuid

from vault.domain.model import DocumentCategory, MatrixOverride
from vault.index.records import AccessChange, OverrideTrail

_Key = tuple[uuid.UUID, str, DocumentCategory]


def _trail(override: MatrixOverride, change: str, opened: bool, request_id: str) -> AccessChange:
    return AccessChange(
        override.dossier_id,
        OverrideTrail.of(opened),
        override.subject,
        change,
        override.created_us,
        request_id,
        detail=override.category.value,
    )


class MemoryOverrides:
    _changes: list[AccessChange]  # the access trail, `MemoryIndex`'s

    def __init__(self) -> None:
        self._overrides_lock = threading.Lock()
        self._overrides: dict[_Key, MatrixOverride] = {}

    def matrix_overrides(
        self, dossier_id: uuid.UUID, subject: str | None = None
    ) -> tuple[MatrixOverride, ...]:
        with self._overrides_lock:
            found = [
                o
                for (d, s, _), o in self._overrides.items()
                if d == dossier_id and subject in (None, s)
            ]
        return tuple(sorted(found, key=lambda o: (o.subject, o.category.value)))

    def set_matrix_override(self, override: MatrixOverride, request_id: str) -> None:
        with self._overrides_lock:
            key = (override.dossier_id, override.subject, override.category)
            replaced = self._overrides.get(key)
            self._overrides[key] = override
            if replaced is not None and replaced.opened != override.opened:
                self._changes.append(_trail(override, "removed", replaced.opened, request_id))
            self._changes.append(_trail(override, "set", override.opened, request_id))

    def clear_matrix_override(
        self,
        dossier_id: uuid.UUID,
        subject: str,
        category: DocumentCategory,
        cleared_us: int,
        request_id: str,
    ) -> bool:
        with self._overrides_lock:
            removed = self._overrides.pop((dossier_id, subject, category), None)
            if removed is None:
                return False
            cleared = MatrixOverride(dossier_id, subject, category, removed.opened, cleared_us)
            self._changes.append(_trail(cleared, "removed", removed.opened, request_id))
            return True
