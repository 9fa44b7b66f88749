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
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tools.make_vectors import VECTORS, build_vectors
from vault.birth_secrets import open_birth_date
from vault.crypto.objectformat import ObjectRef, decrypt_range, decrypt_stream
from vault.errors import IntegrityError
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
    ref = _ref(case)
    stream = io.BytesIO(bytes.fromhex(case["object"]))
    assert (
        b"".join(decrypt_stream(bytes.fromhex(case["document_key"]), ref, stream.read)) == plaintext
    )


@pytest.mark.parametrize("case", STORED["object_v1"], ids=lambda c: c["name"])
def test_object_vectors_have_the_specified_size_and_segments(case: dict[str, Any]) -> None:
    """105 + L + 16 x max(1, ceil(L / S)) bytes: one empty segment for an empty document,
    and no empty segment after full ones when L is a multiple of S."""
    size, length = len(case["object"]) // 2, len(case["plaintext"]) // 2
    segments = max(1, -(-length // case["segment_size"]))
    assert size == 105 + length + 16 * segments


OBJECTS = {case["name"]: case for case in STORED["object_v1"]}
MULTIPLE = OBJECTS["two full segments: a length that is a multiple of the segment size"]
THREE = OBJECTS["three segments, last one short"]


def test_a_multiple_of_the_segment_size_ends_on_a_full_segment_marked_last() -> None:
    blob, key = bytes.fromhex(MULTIPLE["object"]), bytes.fromhex(MULTIPLE["document_key"])
    assert len(blob) == 105 + 2 * (16 + 16)
    last = blob[105 + 32 :]
    salt, prefix = blob[50:66], blob[66:73]
    segment_key = HKDF(hashes.SHA256(), 32, salt, b"DVLT/v1/segment-key").derive(key)
    position = struct.pack(">IB", 1, 1)
    assert len(AESGCM(segment_key).decrypt(prefix + position, last, blob[:105] + position)) == 16


def _ref(case: dict[str, Any]) -> ObjectRef:
    return ObjectRef(
        uuid.UUID(case["dossier_id"]),
        uuid.UUID(case["document_id"]),
        case["version"],
        case["dossier_key_version"],
    )


def _ranged(blob: bytes, recorded_size: int, offset: int, length: int) -> bytes:
    def open_at(at: int, size: int) -> Callable[[int], bytes]:
        return io.BytesIO(blob[at : at + size]).read

    key = bytes.fromhex(THREE["document_key"])
    return b"".join(decrypt_range(key, _ref(THREE), open_at, recorded_size, offset, length))


def test_a_range_inside_intact_segments_of_a_truncated_object_is_served() -> None:
    """docs/format.md, "Ranged reads": the bytes served are authentic and in place."""
    blob = bytes.fromhex(THREE["object"])
    truncated = blob[:-5]  # the last segment is damaged
    assert _ranged(truncated, len(blob), 3, 20) == bytes.fromhex(THREE["plaintext"])[3:23]


@pytest.mark.parametrize("recorded", ["as written", "shortened by one segment"])
def test_a_range_reaching_a_truncated_end_fails(recorded: str) -> None:
    blob = bytes.fromhex(THREE["object"])
    size = len(blob) if recorded == "as written" else len(blob) - 32
    with pytest.raises(IntegrityError):
        _ranged(blob[: size - 5] if recorded == "as written" else blob, size, 20, 15)


def test_an_empty_last_segment_after_full_ones_is_authenticated_and_accepted() -> None:
    """What the writer never produces but the format authenticates (docs/format.md,
    "Reading"): built here from the specification's words."""
    blob, key = bytes.fromhex(MULTIPLE["object"]), bytes.fromhex(MULTIPLE["document_key"])
    header, salt, prefix = blob[:105], blob[50:66], blob[66:73]
    aead = AESGCM(HKDF(hashes.SHA256(), 32, salt, b"DVLT/v1/segment-key").derive(key))
    plaintext = bytes.fromhex(MULTIPLE["plaintext"])
    body = b""
    for index, (piece, last) in enumerate([(plaintext[:16], 0), (plaintext[16:], 0), (b"", 1)]):
        position = struct.pack(">IB", index, last)
        body += aead.encrypt(prefix + position, piece, header + position)
    stream = io.BytesIO(header + body)
    assert b"".join(decrypt_stream(key, _ref(MULTIPLE), stream.read)) == plaintext


def test_sealed_box_vector_opens_by_the_specification() -> None:
    case = STORED["sealed_box_v1"][0]  # the document key; tests/test_key_vectors.py: the others
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
    (case,) = (c for c in STORED["sealed_box_v1"] if "team_id" in c)
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


def test_birth_date_vector_opens_by_the_specification() -> None:
    (case,) = (c for c in STORED["sealed_box_v1"] if "birth_key_version" in c)
    box = bytes.fromhex(case["box"])
    aad = (  # rebuilt from docs/format.md, not taken from the vector
        b"DVLT/v1/birth-date\x00"
        + uuid.UUID(case["dossier_id"]).bytes
        + struct.pack(">I", case["birth_key_version"])
    )
    assert aad.hex() == case["aad"]
    assert len(box) == 39
    opened = AESGCM(bytes.fromhex(case["dossier_key"])).decrypt(box[1:13], box[13:], aad)
    assert opened == b"2011-02-28"
    key, dossier_id = bytes.fromhex(case["dossier_key"]), uuid.UUID(case["dossier_id"])
    born = open_birth_date(key, dossier_id, case["birth_key_version"], box)
    assert born == date(2011, 2, 28)


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
