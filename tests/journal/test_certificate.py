"""Destruction certificates v1: round trip, the tampering they stop, and that neither a
checkpoint nor a certificate is ever taken for the other."""

from __future__ import annotations

import contextlib
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from vault.errors import IntegrityError
from vault.journal import certificate
from vault.journal.certificate import Certificate, DestroyedObject, open_certificate
from vault.journal.checkpoint import Checkpoint, VerifierKey, open_note, sign

NAME = "dossier-vault/journal"


class Key:
    def __init__(self, seed: bytes = b"\x07" * 32) -> None:
        self._private = Ed25519PrivateKey.from_private_bytes(seed)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._private.public_key()

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)


KEY = Key()
VERIFIER = VerifierKey(NAME, KEY.public_key)
CERTIFICATE = Certificate(
    dossier_id=uuid.UUID("01a20000-0000-7000-8000-000000000001"),
    reason="deadline",
    job_id=uuid.UUID("9b7c6a44-2d0e-4f0e-9a57-3c8e1f2b4d5a"),
    started_us=2_100_000_000_000_000,
    completed_us=2_100_000_001_000_000,
    decision_seq=42,
    decision_chain_hash=bytes(range(32)),
    keys_destroyed=(1, 2),
    objects=(
        DestroyedObject(
            uuid.UUID("01a20000-0000-7000-8000-0000000000d1"), 1, "ab" * 16, b"\x01" * 32, 4096, 2
        ),
    ),
)
EXPECTED_BODY = (
    "dossier-vault/destruction-certificate/v1\n"
    "dossier 01a20000-0000-7000-8000-000000000001\n"
    "reason deadline\n"
    "job 9b7c6a44-2d0e-4f0e-9a57-3c8e1f2b4d5a\n"
    "started 2100000000000000\n"
    "completed 2100000001000000\n"
    "decision 42 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
    "keys-destroyed 1,2\n"
    "object 01a20000-0000-7000-8000-0000000000d1 1 abababababababababababababababab "
    + "01" * 32
    + " 4096 2\n"
)


def test_the_body_is_exactly_as_specified() -> None:
    assert CERTIFICATE.body() == EXPECTED_BODY


def test_a_signed_certificate_opens_to_itself() -> None:
    note = certificate.sign(CERTIFICATE, NAME, KEY)
    assert open_certificate(note, VERIFIER) == CERTIFICATE


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("reason deadline", "reason deletion_request"),
        ("decision 42", "decision 43"),
        (" 4096 2", " 4096 0"),
        ("keys-destroyed 1,2", "keys-destroyed 1"),
    ],
    ids=["reason", "decision", "versions-deleted", "keys"],
)
def test_an_edited_certificate_is_rejected(old: str, new: str) -> None:
    note = certificate.sign(CERTIFICATE, NAME, KEY).replace(old, new)
    with pytest.raises(IntegrityError):
        open_certificate(note, VERIFIER)


def test_a_certificate_signed_by_another_key_is_rejected() -> None:
    note = certificate.sign(CERTIFICATE, NAME, Key(b"\x08" * 32))
    with pytest.raises(IntegrityError, match="no signature by the expected key"):
        open_certificate(note, VERIFIER)


def test_a_checkpoint_is_never_taken_for_a_certificate_nor_the_reverse() -> None:
    checkpoint = sign(Checkpoint(NAME, 42, bytes(32), 1), NAME, KEY)
    with pytest.raises(IntegrityError):
        open_certificate(checkpoint, VERIFIER)
    with pytest.raises(IntegrityError):
        open_note(certificate.sign(CERTIFICATE, NAME, KEY), VERIFIER)


def test_a_validly_signed_but_non_canonical_body_is_rejected() -> None:
    body = EXPECTED_BODY.replace("keys-destroyed 1,2", "keys-destroyed 01,2")
    note = certificate.sign_note(body, NAME, KEY)
    with pytest.raises(IntegrityError, match="canonical"):
        open_certificate(note, VERIFIER)


@given(st.text(max_size=400))
def test_parsing_arbitrary_signed_text_raises_only_integrity_errors(body: str) -> None:
    note = certificate.sign_note(body + "\n", NAME, KEY)
    with contextlib.suppress(IntegrityError):
        open_certificate(note, VERIFIER)
