"""The holder's date of birth under their dossier key: a sealed box (docs/format.md,
"Sealed box v1", use "birth date") whose associated data binds it to its dossier and
dossier key version. The plaintext is the date in ASCII, `YYYY-MM-DD` (10 bytes),
nothing else. A date of birth identifies the holder: it dies with the dossier key and is
never in clear in the index.

Not here: what the date decides (vault/domain/majority.py), where it is stored (the
index), re-sealing it when the dossier key rotates (vault/rotation.py).
"""

from __future__ import annotations

import uuid
from datetime import date

from vault.crypto import sealed
from vault.errors import IntegrityError

_FORMAT_SIZE = 10  # YYYY-MM-DD


def _aad(dossier_id: uuid.UUID, key_version: int) -> bytes:
    return sealed.BIRTH_DATE_LABEL + sealed.birth_date_context(dossier_id, key_version)


def encode_birth_date(born: date) -> bytes:
    """The plaintext: `YYYY-MM-DD` in ASCII (years 1 to 9999, zero-padded)."""
    return f"{born.year:04d}-{born.month:02d}-{born.day:02d}".encode("ascii")


def decode_birth_date(plaintext: bytes) -> date:
    """The date in a plaintext, or IntegrityError if it is not exactly `YYYY-MM-DD`."""
    try:
        text = plaintext.decode("ascii")
        born = date.fromisoformat(text) if len(text) == _FORMAT_SIZE else None
    except (UnicodeDecodeError, ValueError):
        born = None
    if born is None or encode_birth_date(born) != plaintext:
        raise IntegrityError("a sealed date of birth is not YYYY-MM-DD")
    return born


def seal_birth_date(
    dossier_key: bytes, dossier_id: uuid.UUID, key_version: int, born: date
) -> bytes:
    return sealed.seal(dossier_key, encode_birth_date(born), _aad(dossier_id, key_version))


def open_birth_date(
    dossier_key: bytes, dossier_id: uuid.UUID, key_version: int, box: bytes
) -> date:
    return decode_birth_date(sealed.open_sealed(dossier_key, box, _aad(dossier_id, key_version)))
