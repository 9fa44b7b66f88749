"""Known answers for the key hierarchy's formats: the local master key file, a dossier key
wrapped under a master key, and a document's sealed metadata (docs/format.md, "Local
master key file v1" and "Sealed box v1").

Each vector is made by the vault's own code from fixed inputs: the key file is what
`create_key_file` writes (its JSON spelling), with fixed keys; the blind index and the
checkpoint key are what `LocalKeyFileProvider` computes from it; the metadata plaintext is
what `version_secrets.seal_metadata` seals, re-sealed here under a fixed nonce (the code
draws a random one). Not here: writing the vectors file or docs/format.md
(tools/make_vectors.py), nor reading them back (tests/test_key_vectors.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from vault.crypto import sealed
from vault.crypto.localkeys import FORMAT as KEY_FILE_FORMAT
from vault.domain.model import (
    ActorKind,
    Author,
    DocumentCategory,
    DocumentFormat,
    DocumentMetadata,
)
from vault.index.records import VersionRecord
from vault.version_secrets import seal_metadata

MASTER_KEYS = {1: bytes(range(32)), 2: bytes(range(96, 128))}
INDEX_KEY = bytes(range(64, 96))
CHECKPOINT_SEED = bytes(range(32))
INS = "184127645108946"
DOSSIER_KEY = bytes(range(128, 160))

METADATA_INPUTS: dict[str, Any] = {
    "title": "\u00c9chographie abdominale \u2014 contr\u00f4le",
    "media_type": "application/pdf",
    "format": "pdf",
    "content": "DMP test vector",
    "author_kind": "professional",
    "author_professional_id": "10003456786",
    "author_profession": "10",
    "author_specialty": "SM26",
}


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def key_file_text() -> str:
    """The key file, spelt as `create_key_file` and the rotation commands write it."""
    document = {
        "format": KEY_FILE_FORMAT,
        "current": 2,
        "master": {str(version): _b64(key) for version, key in MASTER_KEYS.items()},
        "index": _b64(INDEX_KEY),
        "checkpoint": _b64(CHECKPOINT_SEED),
    }
    return json.dumps(document)


def key_file_vector(blind_index: bytes) -> dict[str, Any]:
    """`blind_index` is what the provider over `key_file_text()` computes for the INS's
    label (the caller opens the file: the provider wants one on disk)."""
    public = (
        Ed25519PrivateKey.from_private_bytes(CHECKPOINT_SEED)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    return {
        "name": "two master versions, version 2 current",
        "key_file": key_file_text(),
        "master_keys": {str(v): key.hex() for v, key in MASTER_KEYS.items()},
        "index_key": INDEX_KEY.hex(),
        "checkpoint_seed": CHECKPOINT_SEED.hex(),
        "checkpoint_public_key": public.hex(),
        "ins": INS,
        "patient_index": blind_index.hex(),
        "actor_ref": f"ins-hmac:{blind_index.hex()}",
    }


def ins_label(ins: str) -> bytes:
    """What the provider's HMAC takes for an INS's blind index (vault/service/gate.py)."""
    return b"DVLT/v1/ins\x00" + ins.encode()


def dossier_key_vector(dossier: uuid.UUID) -> dict[str, Any]:
    master_version, key_version, nonce = 2, 3, bytes(range(12, 24))
    context = sealed.dossier_key_context(dossier, key_version)
    aad = sealed.dossier_key_aad(context, master_version)
    box = sealed.seal(MASTER_KEYS[master_version], DOSSIER_KEY, aad, nonce=nonce)
    return {
        "name": "dossier key wrapped under master key version 2",
        "master_key": MASTER_KEYS[master_version].hex(),
        "master_version": master_version,
        "dossier_id": str(dossier),
        "dossier_key_version": key_version,
        "nonce": nonce.hex(),
        "aad": aad.hex(),
        "plaintext": DOSSIER_KEY.hex(),
        "box": box.hex(),
    }


def metadata_record(case: dict[str, Any], box: bytes) -> VersionRecord:
    """The index row a `metadata` vector's box belongs to."""
    return VersionRecord(
        dossier_id=uuid.UUID(case["dossier_id"]),
        document_id=uuid.UUID(case["document_id"]),
        version=case["version"],
        category=DocumentCategory.IMAGING,
        created_us=0,
        blob_key="0" * 32,
        dossier_key_version=case["dossier_key_version"],
        wrapped_key=b"",
        sealed_metadata=box,
        author=METADATA_INPUTS["author_professional_id"],
    )


def metadata_vector(dossier: uuid.UUID, document: uuid.UUID) -> dict[str, Any]:
    inputs = METADATA_INPUTS
    case: dict[str, Any] = {
        "name": "metadata sealed under a dossier key",
        "dossier_key": DOSSIER_KEY.hex(),
        "dossier_id": str(dossier),
        "document_id": str(document),
        "version": 2,
        "dossier_key_version": 3,
        "nonce": bytes(range(24, 36)).hex(),
        "metadata": inputs,
    }
    drawn = seal_metadata(
        DOSSIER_KEY,
        metadata_record(case, b""),
        DocumentMetadata(
            title=inputs["title"],
            category=DocumentCategory.IMAGING,
            media_type=inputs["media_type"],
            format=DocumentFormat(inputs["format"]),
        ),
        hashlib.sha256(inputs["content"].encode()).digest(),
        Author(
            ActorKind(inputs["author_kind"]),
            inputs["author_professional_id"],
            inputs["author_profession"],
            inputs["author_specialty"],
        ),
    )
    context = sealed.document_key_context(dossier, document, 2, 3)
    aad = sealed.METADATA_LABEL + context
    plaintext = sealed.open_sealed(DOSSIER_KEY, drawn, aad)
    box = sealed.seal(DOSSIER_KEY, plaintext, aad, nonce=bytes.fromhex(case["nonce"]))
    case.update(aad=aad.hex(), plaintext_json=plaintext.decode("ascii"), box=box.hex())
    return case
