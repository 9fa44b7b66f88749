"""`Majorities`: when a dossier's holder comes of age, from their sealed date of birth,
opened once per sealed box and kept in a bounded cache.

A legal representative's every request needs the holder's majority (their rights end
there: vault/service/representation.py). Opening the sealed date costs a dossier key
read and unwrap (a key provider call: an HSM's, in production) and the box's
decryption; the answer depends only on the box. So the cache is keyed by the box
itself (dossier, key version and sealed bytes, as the index holds them at the
request): a date corrected (`BirthIndex.set_birth`) or re-sealed by a key rotation
(`reseal_birth`) is a new box, hence a miss, in this process and in every other serving
the same index. No invalidation to forget, none to coordinate between processes.

Bounded (least recently used out first). What it keeps is the moment of an 18th
birthday, in this process's memory only: nothing is written, logged or sent. Not here:
what the majority means (vault/domain/majority.py, the policy), reading the box (the
gate's standing read, vault/index/standing.py).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict

from vault.birth_secrets import open_birth_date
from vault.crypto.dossierkeys import WrappedDossierKeys, unwrap_dossier_key
from vault.crypto.keyprovider import KeyProvider
from vault.domain.majority import majority_us
from vault.index.births import SealedBirth

CAPACITY = 16_384  # boxes; each entry about 250 bytes


class Majorities:
    """The majority of the holder of each sealed date of birth seen lately."""

    def __init__(self, keys: KeyProvider, capacity: int = CAPACITY) -> None:
        self._keys = keys
        self._capacity = capacity
        self._lock = threading.Lock()
        self._known: OrderedDict[tuple[uuid.UUID, int, bytes], int] = OrderedDict()

    def of(self, index: WrappedDossierKeys, birth: SealedBirth) -> int:
        """When the holder born on the date `birth` seals comes of age (Unix µs)."""
        box = (birth.dossier_id, birth.key_version, birth.sealed)
        with self._lock:
            known = self._known.get(box)
            if known is not None:
                self._known.move_to_end(box)
                return known
        key = unwrap_dossier_key(index, self._keys, birth.dossier_id, birth.key_version)
        opened = open_birth_date(key, birth.dossier_id, birth.key_version, birth.sealed)
        majority = majority_us(opened)
        with self._lock:
            self._known[box] = majority
            while len(self._known) > self._capacity:
                self._known.popitem(last=False)
        return majority

    def __len__(self) -> int:
        with self._lock:
            return len(self._known)
