"""Sealed box v1: one small secret (a key, a metadata record) under AES-256-GCM.

    version (1) = 0x01 || nonce (12, random) || ciphertext (len(plaintext)) || tag (16)

The associated data is never stored: each use builds it from a domain label and the ids
the secret belongs to (`context`), so a box moved to another dossier, document, version
or key version fails to open. See docs/format.md, "Sealed box v1".
"""

from __future__ import annotations

import os
import struct
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.errors import IntegrityError

VERSION = 1
NONCE_SIZE = 12
TAG_SIZE = 16
OVERHEAD = 1 + NONCE_SIZE + TAG_SIZE
KEY_SIZE = 32

DOSSIER_KEY_LABEL = b"DVLT/v1/dossier-key\x00"
DOCUMENT_KEY_LABEL = b"DVLT/v1/document-key\x00"
METADATA_LABEL = b"DVLT/v1/metadata\x00"
CARE_TEAM_NAME_LABEL = b"DVLT/v1/care-team-name\x00"
BIRTH_DATE_LABEL = b"DVLT/v1/birth-date\x00"


def seal(key: bytes, plaintext: bytes, aad: bytes, nonce: bytes | None = None) -> bytes:
    """Encrypts `plaintext`; `nonce` is for test vectors only (default: random)."""
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    return bytes([VERSION]) + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, box: bytes, aad: bytes) -> bytes:
    """Decrypts a sealed box or raises IntegrityError (tampered, moved or wrong key)."""
    if len(box) < OVERHEAD:
        raise IntegrityError("sealed box truncated")
    if box[0] != VERSION:
        raise IntegrityError(f"unsupported sealed box version {box[0]}")
    try:
        return AESGCM(key).decrypt(box[1 : 1 + NONCE_SIZE], box[1 + NONCE_SIZE :], aad)
    except InvalidTag:
        raise IntegrityError("sealed box failed authentication") from None


def document_key_context(
    dossier_id: uuid.UUID, document_id: uuid.UUID, version: int, dossier_key_version: int
) -> bytes:
    """Binds a wrapped document key (or sealed metadata) to its exact place."""
    return dossier_id.bytes + document_id.bytes + struct.pack(">II", version, dossier_key_version)


def care_team_context(dossier_id: uuid.UUID, team_id: uuid.UUID, dossier_key_version: int) -> bytes:
    """Binds a sealed care team name to its dossier, team and dossier key version."""
    return dossier_id.bytes + team_id.bytes + struct.pack(">I", dossier_key_version)


def birth_date_context(dossier_id: uuid.UUID, dossier_key_version: int) -> bytes:
    """Binds a holder's sealed date of birth to its dossier and dossier key version."""
    return dossier_id.bytes + struct.pack(">I", dossier_key_version)


def dossier_key_context(dossier_id: uuid.UUID, dossier_key_version: int) -> bytes:
    """Binds a wrapped dossier key to its dossier and version."""
    return dossier_id.bytes + struct.pack(">I", dossier_key_version)


def dossier_key_aad(context: bytes, master_version: int) -> bytes:
    """The associated data of a dossier key wrapped by master key `master_version`, the
    same for every key provider (so their blobs are interchangeable given the same key)."""
    return DOSSIER_KEY_LABEL + context + struct.pack(">I", master_version)
