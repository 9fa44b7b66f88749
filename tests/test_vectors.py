"""The stored vectors match the code, and an independent reading of docs/format.md
(written here from the specification, not from the implementation) opens them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import struct
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tools.make_vectors import VECTORS, build_vectors
from vault.crypto.objectformat import ObjectRef, decrypt_stream
from vault.team_secrets import open_team_name

STORED: dict[str, Any] = json.loads(VECTORS.read_text())
ROOT = Path(__file__).resolve().parent.parent


def test_stored_vectors_are_what_the_code_produces() -> None:
    assert build_vectors() == STORED


def test_docs_and_vectors_do_not_drift() -> None:
    result = subprocess.run(
        [sys.executable, "tools/make_vectors.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _spec_decrypt_object(case: dict[str, Any]) -> bytes:
    """Object format v1 read straight from docs/format.md."""
    blob, key = bytes.fromhex(case["object"]), bytes.fromhex(case["document_key"])
    header, body = blob[:105], blob[105:]
    assert header[:6] == b"DVLT\x01\x01"
    size = struct.unpack(">I", header[6:10])[0]
    salt, prefix = header[50:66], header[66:73]

    def subkey(info: bytes) -> bytes:
        return HKDF(hashes.SHA256(), 32, salt, info).derive(key)

    expected_mac = hmac.new(subkey(b"DVLT/v1/header-mac-key"), header[:73], "sha256").digest()
    assert hmac.compare_digest(expected_mac, header[73:])
    aead, step = AESGCM(subkey(b"DVLT/v1/segment-key")), size + 16
    pieces = [body[i : i + step] for i in range(0, len(body), step)]
    plaintext = b""
    for index, piece in enumerate(pieces):
        position = struct.pack(">IB", index, index == len(pieces) - 1)
        plaintext += aead.decrypt(prefix + position, piece, header + position)
    return plaintext


@pytest.mark.parametrize("case", STORED["object_v1"], ids=lambda c: c["name"])
def test_object_vectors_open_by_the_specification_and_by_the_code(case: dict[str, Any]) -> None:
    plaintext = bytes.fromhex(case["plaintext"])
    assert _spec_decrypt_object(case) == plaintext
    ref = ObjectRef(
        uuid.UUID(case["dossier_id"]),
        uuid.UUID(case["document_id"]),
        case["version"],
        case["dossier_key_version"],
    )
    stream = io.BytesIO(bytes.fromhex(case["object"]))
    assert (
        b"".join(decrypt_stream(bytes.fromhex(case["document_key"]), ref, stream.read)) == plaintext
    )


def test_sealed_box_vector_opens_by_the_specification() -> None:
    case = STORED["sealed_box_v1"][0]
    box = bytes.fromhex(case["box"])
    assert box[0] == 1
    object_case = STORED["object_v1"][0]  # the same dossier and document
    aad = (  # rebuilt from docs/format.md, not taken from the vector
        b"DVLT/v1/document-key\x00"
        + uuid.UUID(object_case["dossier_id"]).bytes
        + uuid.UUID(object_case["document_id"]).bytes
        + struct.pack(">II", 1, 1)
    )
    assert aad.hex() == case["aad"]
    opened = AESGCM(bytes.fromhex(case["dossier_key"])).decrypt(box[1:13], box[13:], aad)
    assert opened == bytes.fromhex(case["plaintext"])


def test_care_team_name_vector_opens_by_the_specification() -> None:
    case = STORED["sealed_box_v1"][1]
    box = bytes.fromhex(case["box"])
    aad = (  # rebuilt from docs/format.md, not taken from the vector
        b"DVLT/v1/care-team-name\x00"
        + uuid.UUID(case["dossier_id"]).bytes
        + uuid.UUID(case["team_id"]).bytes
        + struct.pack(">I", case["dossier_key_version"])
    )
    assert aad.hex() == case["aad"]
    opened = AESGCM(bytes.fromhex(case["dossier_key"])).decrypt(box[1:13], box[13:], aad)
    assert opened.decode() == "Équipe de soins, hôpital Nord"
    assert (
        open_team_name(
            bytes.fromhex(case["dossier_key"]),
            uuid.UUID(case["dossier_id"]),
            uuid.UUID(case["team_id"]),
            case["dossier_key_version"],
            box,
        )
        == opened.decode()
    )


def test_journal_vector_hashes_by_the_specification() -> None:
    case = STORED["journal_entry_v1"][0]
    canonical = case["canonical"].encode()
    entry = hashlib.sha256(b"DVLT/v1/journal-entry\x00" + canonical).digest()
    link = hashlib.sha256(
        b"DVLT/v1/journal-link\x00" + bytes.fromhex(case["prev_hash"]) + entry
    ).digest()
    assert entry.hex() == case["entry_hash"]
    assert link.hex() == case["chain_hash"]
    fields = json.loads(canonical)
    assert canonical == json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def test_checkpoint_vector_verifies_by_the_specification() -> None:
    case = STORED["journal_checkpoint_v1"][0]
    name, key_id_hex, encoded = case["verifier_key"].split("+", 2)
    raw = base64.b64decode(encoded)
    assert raw[0] == 0x01
    public = Ed25519PublicKey.from_public_bytes(raw[1:])
    assert hashlib.sha256(name.encode() + b"\n\x01" + raw[1:]).digest()[:4].hex() == key_id_hex
    body, _, signature_line = case["note"].partition("\n\n")
    assert signature_line.startswith(f"\u2014 {name} ")
    stamp = base64.b64decode(signature_line.split(" ")[2])
    assert stamp[:4].hex() == key_id_hex
    public.verify(stamp[4:], (body + "\n").encode())  # raises if the vector were wrong
    size, head = body.split("\n")[1:3]
    assert (size, base64.b64decode(head).hex()) == (
        "1",
        STORED["journal_entry_v1"][0]["chain_hash"],
    )
