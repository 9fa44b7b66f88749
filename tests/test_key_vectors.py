"""The key hierarchy's known answers (tests/vectors/vectors-v1.json: `local_key_file_v1`,
and the dossier-key and metadata cases of `sealed_box_v1`), each read twice: by the
vault's code, and by an independent reading of docs/format.md written here with nothing
but `cryptography` primitives and the specification's words."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.journal.test_canonical import _spec_escape  # the same escaping rules
from tools.key_vectors import metadata_record
from tools.make_vectors import VECTORS
from vault.crypto import sealed
from vault.crypto.dossierkeys import unwrap_key_record
from vault.crypto.keyprovider import WrappedKey
from vault.crypto.localkeys import LocalKeyFileProvider
from vault.errors import ConfigurationError, IntegrityError
from vault.index.records import DossierKeyRecord
from vault.version_secrets import open_metadata

STORED: dict[str, Any] = json.loads(VECTORS.read_text())
KEY_FILE = STORED["local_key_file_v1"][0]
BOXES = {case["name"]: case for case in STORED["sealed_box_v1"]}
DOSSIER_KEY_BOX = BOXES["dossier key wrapped under master key version 2"]
METADATA_BOX = BOXES["metadata sealed under a dossier key"]
ZERO_KEY = base64.b64encode(bytes(32)).decode()


def _key_file(directory: Path, mode: int = 0o600) -> Path:
    path = directory / "master-keys.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as out:
        out.write(KEY_FILE["key_file"])
    os.chmod(path, mode)  # whatever the umask
    return path


def _spec_key(text: str) -> bytes:
    """A key of the key file, as docs/format.md spells it: standard base64, 32 bytes."""
    key = base64.b64decode(text, validate=True)
    assert len(key) == 32
    return key


# -- the local master key file --------------------------------------------------------


def test_key_file_vector_reads_by_the_specification() -> None:
    document = json.loads(KEY_FILE["key_file"])
    assert document["format"] == "dossier-vault-local-keys/1"
    assert document["current"] in {int(version) for version in document["master"]}
    for version, text in document["master"].items():
        assert str(int(version)) == version
        assert 0 < int(version) < 2**32
        assert _spec_key(text).hex() == KEY_FILE["master_keys"][version]
    index_key = _spec_key(document["index"])
    assert index_key.hex() == KEY_FILE["index_key"]
    label = b"DVLT/v1/ins\x00" + KEY_FILE["ins"].encode("ascii")
    assert len(label) == 12 + 15
    patient_index = hmac.new(index_key, label, hashlib.sha256).digest()
    assert patient_index.hex() == KEY_FILE["patient_index"]
    assert KEY_FILE["actor_ref"] == "ins-hmac:" + patient_index.hex()
    seed = _spec_key(document["checkpoint"])
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    assert (
        public.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
        == (KEY_FILE["checkpoint_public_key"])
    )


def test_key_file_vector_reads_by_the_code(tmp_path: Path) -> None:
    provider = LocalKeyFileProvider(_key_file(tmp_path))
    assert provider.master_versions == (1, 2)
    assert provider.current_version == 2
    label = b"DVLT/v1/ins\x00" + KEY_FILE["ins"].encode()
    assert provider.blind_index(label).hex() == KEY_FILE["patient_index"]
    public = provider.checkpoint_signer().public_key
    assert (
        public.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
        == (KEY_FILE["checkpoint_public_key"])
    )


def test_key_file_signs_with_the_checkpoint_vectors_key() -> None:
    """The key file's checkpoint key is the one the checkpoint vector was signed with."""
    verifier = STORED["journal_checkpoint_v1"][0]["verifier_key"]
    raw = base64.b64decode(verifier.split("+", 2)[2])
    assert raw[1:].hex() == KEY_FILE["checkpoint_public_key"]


def test_key_file_readable_by_the_group_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        LocalKeyFileProvider(_key_file(tmp_path, mode=0o640))


@pytest.mark.parametrize(
    "edit",
    [
        {"format": "dossier-vault-local-keys/2"},
        {"master": {"01": ZERO_KEY, "2": ZERO_KEY}},
        {"index": base64.b64encode(bytes(31)).decode()},
        {"index": base64.urlsafe_b64encode(b"\xfb" * 32).decode()},
        {"current": 3},
    ],
    ids=["unknown format", "leading zero", "31-byte key", "url-safe base64", "no such current"],
)
def test_key_file_outside_the_specification_is_refused(
    tmp_path: Path, edit: dict[str, Any]
) -> None:
    document = {**json.loads(KEY_FILE["key_file"]), **edit}
    path = tmp_path / "keys.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(document, out)
    with pytest.raises(ConfigurationError):
        LocalKeyFileProvider(path)


# -- a dossier key wrapped under a master key -----------------------------------------


def test_wrapped_dossier_key_opens_by_the_specification() -> None:
    case = DOSSIER_KEY_BOX
    aad = (  # rebuilt from docs/format.md, "Sealed box v1"
        b"DVLT/v1/dossier-key\x00"
        + uuid.UUID(case["dossier_id"]).bytes
        + struct.pack(">II", case["dossier_key_version"], case["master_version"])
    )
    assert len(aad) == 44
    assert aad.hex() == case["aad"]
    box = bytes.fromhex(case["box"])
    assert len(box) == 61
    assert box[0] == 1
    assert box[1:13].hex() == case["nonce"]
    opened = AESGCM(bytes.fromhex(case["master_key"])).decrypt(box[1:13], box[13:], aad)
    assert opened.hex() == case["plaintext"]


def test_wrapped_dossier_key_opens_by_the_code_from_the_key_file(tmp_path: Path) -> None:
    case = DOSSIER_KEY_BOX
    provider = LocalKeyFileProvider(_key_file(tmp_path))
    record = DossierKeyRecord(
        uuid.UUID(case["dossier_id"]),
        case["dossier_key_version"],
        WrappedKey(case["master_version"], bytes.fromhex(case["box"])),
    )
    assert unwrap_key_record(provider, record).hex() == case["plaintext"]


def test_wrapped_dossier_key_of_another_version_does_not_open(tmp_path: Path) -> None:
    case = DOSSIER_KEY_BOX
    provider = LocalKeyFileProvider(_key_file(tmp_path))
    context = sealed.dossier_key_context(
        uuid.UUID(case["dossier_id"]), case["dossier_key_version"] + 1
    )
    with pytest.raises(IntegrityError):
        provider.unwrap(WrappedKey(case["master_version"], bytes.fromhex(case["box"])), context)


# -- sealed metadata ------------------------------------------------------------------


def _spec_metadata_plaintext(inputs: dict[str, str]) -> bytes:
    fields = {
        "author_kind": inputs["author_kind"],
        "author_profession": inputs["author_profession"],
        "author_specialty": inputs["author_specialty"],
        "format": inputs["format"],
        "media_type": inputs["media_type"],
        "sha256": hashlib.sha256(inputs["content"].encode()).hexdigest(),
        "title": inputs["title"],
    }
    members = (f"{_spec_escape(k)}:{_spec_escape(v)}" for k, v in sorted(fields.items()))
    return ("{" + ",".join(members) + "}").encode("ascii")


def test_sealed_metadata_opens_by_the_specification() -> None:
    case = METADATA_BOX
    aad = (
        b"DVLT/v1/metadata\x00"
        + uuid.UUID(case["dossier_id"]).bytes
        + uuid.UUID(case["document_id"]).bytes
        + struct.pack(">II", case["version"], case["dossier_key_version"])
    )
    assert len(aad) == 57
    assert aad.hex() == case["aad"]
    box = bytes.fromhex(case["box"])
    opened = AESGCM(bytes.fromhex(case["dossier_key"])).decrypt(box[1:13], box[13:], aad)
    assert opened == case["plaintext_json"].encode("ascii")
    assert opened == _spec_metadata_plaintext(case["metadata"])
    assert b"\\u00c9chographie" in opened  # non-ASCII escaped, lowercase hex


def test_sealed_metadata_opens_by_the_code() -> None:
    case, inputs = METADATA_BOX, METADATA_BOX["metadata"]
    record = metadata_record(case, bytes.fromhex(case["box"]))
    document = open_metadata(bytes.fromhex(case["dossier_key"]), record)
    assert document.metadata.title == inputs["title"]
    assert document.metadata.media_type == inputs["media_type"]
    assert document.metadata.format is not None
    assert document.metadata.format.value == inputs["format"]
    assert document.sha256 == hashlib.sha256(inputs["content"].encode()).digest()
    assert document.author is not None
    assert (document.author.kind.value, document.author.professional_id) == (
        inputs["author_kind"],
        inputs["author_professional_id"],
    )
    assert (document.author.profession, document.author.specialty) == (
        inputs["author_profession"],
        inputs["author_specialty"],
    )


def test_sealed_metadata_is_not_taken_for_a_document_key() -> None:
    """The labels differ: the metadata box does not open as the version's document key."""
    case = METADATA_BOX
    record = metadata_record(case, b"")
    context = sealed.document_key_context(
        record.dossier_id, record.document_id, record.version, record.dossier_key_version
    )
    box = bytes.fromhex(case["box"])
    with pytest.raises(IntegrityError):
        sealed.open_sealed(
            bytes.fromhex(case["dossier_key"]), box, sealed.DOCUMENT_KEY_LABEL + context
        )
