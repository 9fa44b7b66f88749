"""The holder's majority is opened once per sealed date of birth (`Majorities`): a
representative's next requests unwrap no dossier key; a corrected or re-sealed date is a
new box and is opened again (no stale majority, in any process); the cache is bounded."""

from __future__ import annotations

import os
import uuid
from datetime import date
from pathlib import Path

from vault.birth_secrets import seal_birth_date
from vault.crypto import sealed
from vault.crypto.keyprovider import WrappedKey
from vault.crypto.localkeys import LocalKeyFileProvider, create_key_file
from vault.domain.ids import new_id
from vault.domain.majority import majority_us
from vault.index.births import SealedBirth
from vault.index.records import DossierKeyRecord
from vault.service.majorities import Majorities


class _Keys:
    """A dossier's wrapped keys, counting the reads (each read is an unwrap)."""

    def __init__(self, provider: LocalKeyFileProvider, dossier_id: uuid.UUID) -> None:
        self.plain = {v: os.urandom(sealed.KEY_SIZE) for v in (1, 2)}
        self.wrapped = {
            v: provider.wrap(k, sealed.dossier_key_context(dossier_id, v))
            for v, k in self.plain.items()
        }
        self.reads = 0

    def dossier_key(self, dossier_id: uuid.UUID, version: int) -> DossierKeyRecord:
        self.reads += 1
        wrapped: WrappedKey = self.wrapped[version]
        return DossierKeyRecord(dossier_id, version, wrapped)


def _setup(tmp_path: Path) -> tuple[LocalKeyFileProvider, uuid.UUID, _Keys]:
    create_key_file(tmp_path / "keys.json")
    provider = LocalKeyFileProvider(tmp_path / "keys.json")
    dossier_id = new_id()
    return provider, dossier_id, _Keys(provider, dossier_id)


def _box(keys: _Keys, dossier_id: uuid.UUID, version: int, born: date) -> SealedBirth:
    return SealedBirth(
        dossier_id, version, seal_birth_date(keys.plain[version], dossier_id, version, born)
    )


def test_a_sealed_date_is_opened_once_and_a_corrected_one_again(tmp_path: Path) -> None:
    provider, dossier_id, keys = _setup(tmp_path)
    majorities = Majorities(provider)
    first = _box(keys, dossier_id, 1, date(2015, 3, 4))
    assert majorities.of(keys, first) == majority_us(date(2015, 3, 4))
    assert majorities.of(keys, first) == majority_us(date(2015, 3, 4))
    assert keys.reads == 1
    corrected = _box(keys, dossier_id, 1, date(2012, 3, 4))  # set_birth: a new box
    assert majorities.of(keys, corrected) == majority_us(date(2012, 3, 4))
    resealed = _box(keys, dossier_id, 2, date(2012, 3, 4))  # a key rotation's reseal
    assert majorities.of(keys, resealed) == majority_us(date(2012, 3, 4))
    assert keys.reads == 3
    same_date_new_box = _box(keys, dossier_id, 1, date(2015, 3, 4))  # a fresh nonce
    assert same_date_new_box.sealed != first.sealed
    assert majorities.of(keys, same_date_new_box) == majority_us(date(2015, 3, 4))
    assert keys.reads == 4


def test_the_cache_keeps_the_most_recent_boxes_only(tmp_path: Path) -> None:
    provider, dossier_id, keys = _setup(tmp_path)
    majorities = Majorities(provider, capacity=2)
    boxes = [_box(keys, dossier_id, 1, date(2010 + n, 1, 1)) for n in range(3)]
    for box in boxes:
        majorities.of(keys, box)
    assert len(majorities) == 2
    majorities.of(keys, boxes[2])  # kept: no read
    assert keys.reads == 3
    majorities.of(keys, boxes[0])  # the oldest went out: read again
    assert keys.reads == 4
