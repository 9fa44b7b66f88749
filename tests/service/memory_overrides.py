"""`MemoryOverrides`: the `OverrideIndex` port in a dict, for `MemoryIndex` (the SQL
adapter's semantics: one override per dossier, professional and category)."""

from __future__ import annotations

import threading
import uuid

from vault.domain.model import DocumentCategory, MatrixOverride

_Key = tuple[uuid.UUID, str, DocumentCategory]


class MemoryOverrides:
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
            self._overrides[key] = override

    def clear_matrix_override(
        self, dossier_id: uuid.UUID, subject: str, category: DocumentCategory
    ) -> bool:
        with self._overrides_lock:
            return self._overrides.pop((dossier_id, subject, category), None) is not None
